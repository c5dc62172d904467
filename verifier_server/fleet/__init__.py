"""A verifier fleet on the training cluster's Ray: one server per node, found as ``ray://NAME``, replaced when lost.

``controller`` (the named detached actor that keeps the replicas), ``replica`` (the actor
that runs one normal server process on its node), ``manage`` (up, status, down) and
``cli`` (``verifier fleet``). The client's half is ``sdk._fleet``. Needs ``ray``
(``pip install 'verifier-service[fleet]'``); nothing here is imported by the server itself.
"""
