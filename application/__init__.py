"""Use cases of aimpay. They depend on the domain and on the ports declared in ``application.ports``."""
