"""Trust Guide: an Alexa skill that reads the guide "How to Help Your Partner with Trust Issues".

Floors, bottom up (a module imports only from its own floor or below):
1. guide core, standard library only: content, progress, commands, guide, pauses, config
2. speech: SSML rendering and Alexa's output limits
3. Alexa glue: handlers, interceptors, builder (ask-sdk-core)
4. edges: persistence, web endpoint, simulator, CLI
"""
