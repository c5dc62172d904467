"""What the kinds that run user code in the sandbox share: the server's one sandbox, nonce-tagged replies,
shipping stdlib programs into jobs, and the host for a user's Python function (userfn.py).

The ``code`` kind (candidates' programs, custom checker programs) and the ``python`` kind (reward
functions) both build on it; neither imports the other.
"""
