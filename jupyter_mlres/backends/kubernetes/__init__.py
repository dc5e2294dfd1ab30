"""The Kubernetes backend (the only part of jupyter_mlres that imports ``kubernetes``)."""

from jupyter_mlres.backends.kubernetes.backend import KubernetesBackend

__all__ = ["KubernetesBackend"]
