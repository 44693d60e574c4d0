"""Engines that run outside the page and speak OpenAI's chat API, reached only from Python:

    servers.py   the servers the user added (servers.json, keys kept from the page)
    client.py    models, context window, token counts and streamed answers from such a server
    native.py    the native CPU engine: llama.cpp's llama-server serving a store model on
                 loopback inside this process

The page talks to them through the local server (bridge/engines.py), so its CSP stays closed.
"""
