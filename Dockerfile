# d2l-ts for a class: a JupyterHub single-user image (Zero to JupyterHub `singleuser.image`) that also builds on
# Binder (repo2docker builds a root Dockerfile like this one). Everything is scripts/image-setup.sh, run here as root
# into /opt/d2l-ts; the same script runs as a plain user into any prefix (that is how CI tests it: this Dockerfile
# itself is not built in CI, there is no Docker daemon there). See README, "Teaching a class".
#
#   docker build -t d2l-ts:latest .
#   docker run --rm -p 8888:8888 d2l-ts:latest      # JupyterLab on :8888; kernel "TypeScript (d2l-ts)"
FROM node:20-bookworm

# Python for JupyterLab (a venv: Debian's Python is externally managed), and what the native TensorFlow backend's
# build needs (scripts/setup-native.sh: a C++ toolchain, make, unzip, patch; most are in this base image already).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
      g++ make unzip patch ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The learner's account. Binder passes NB_USER and NB_UID (1000) and runs the server as that user with HOME in
# /home/$NB_USER; Zero to JupyterHub runs the image as uid 1000 too. The base image's `node` account already has uid
# 1000, so it is renamed rather than duplicated.
ARG NB_USER=jovyan
ARG NB_UID=1000
ENV NB_USER=${NB_USER} NB_UID=${NB_UID} USER=${NB_USER} HOME=/home/${NB_USER}
RUN old="$(getent passwd "${NB_UID}" | cut -d: -f1)"; \
    if [ -z "$old" ]; then useradd -m -s /bin/bash -u "${NB_UID}" "${NB_USER}"; \
    elif [ "$old" != "${NB_USER}" ]; then \
      usermod -l "${NB_USER}" -d "/home/${NB_USER}" -m -s /bin/bash "$old" \
      && groupmod -n "${NB_USER}" "$(id -gn "${NB_USER}")"; \
    fi

# d2l-ts, JupyterLab + jupyterhub (jupyterhub-singleuser), the native backend, the kernelspec (in the venv, pointing
# at /opt/d2l-ts/app) and Fashion-MNIST in /opt/d2l-ts/data: nothing is downloaded when a kernel starts. The kernelspec
# also goes into /usr/local/share/jupyter, where any other Jupyter in the image looks too.
COPY . /usr/src/d2l-ts
RUN bash /usr/src/d2l-ts/scripts/image-setup.sh /opt/d2l-ts \
 && node /opt/d2l-ts/app/bin/d2l-ts.js install --prefix /usr/local --env D2L_DATA=/opt/d2l-ts/data --env D2L_DOWNLOAD=0 \
 && rm -rf /usr/src/d2l-ts
ENV PATH=/opt/d2l-ts/venv/bin:${PATH}

# The lecture notebooks in the learner's home (Binder opens them there; on JupyterHub a persistent home volume is
# mounted over /home, so they are also in /opt/d2l-ts/app/notebooks, e.g. for nbgitpuller or a copy at start).
RUN cp -r /opt/d2l-ts/app/notebooks "${HOME}/notebooks" && chown -R "${NB_UID}" "${HOME}"
USER ${NB_UID}
WORKDIR ${HOME}
EXPOSE 8888
# JupyterHub and Binder start their own command (jupyterhub-singleuser, jupyter notebook/lab); this is for docker run.
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"]
