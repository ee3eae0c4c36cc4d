"""A retrieval-augmented chatbot over a ragstore collection: a reusable engine, a terminal and a web front end.

Run it from the repository root::

    python -m examples.chatbot --path ./ragstore_data --collection docs [--docs FOLDER]
                               [--llm-url URL --llm-model NAME]

Modules, one concept each:

- :mod:`.store`: open the store (persistent, server or in-memory) and ingest a folder on first run.
- :mod:`.retrieval`: query a collection into ranked :class:`~.retrieval.Passage` objects, with a relevance threshold
  (:mod:`ragstore.relevance`, the score the CLI and the integrations show too).
- :mod:`.sections`: chunks of the same section merge into one source.
- :mod:`.memory`: conversation history and the follow-up rewriting rule.
- :mod:`.budget`: token counting and trimming the context to a budget.
- :mod:`.extractive`: the offline answer (the passages' sentences closest to the question, code quoted as code).
- :mod:`.llm`: streaming answers from an OpenAI-compatible chat endpoint.
- :mod:`.engine`: :class:`~.engine.ChatEngine` ties them together; a reply is a stream of tokens plus its sources.
- :mod:`.terminal`: the read-answer loop and its commands (``/help``, ``/sources``, ``/reset``, ``quit``).
- :mod:`.cli`: the command line; :mod:`.web` and :mod:`.sessions`: the web chatbot (``--web``).
"""
