"""The control plane: the Unix-socket API the daemon serves and the client brewctl uses."""
