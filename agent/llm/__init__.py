"""The model seam: one small async client interface, over the anthropic SDK or a script.

    protocol.py          ModelRequest, ModelReply, the ModelClient protocol every client meets,
                         TransientModelError, and the reply decoding both clients share
    anthropic_client.py  AnthropicClient (the Messages API through the SDK, imported lazily) and
                         require_api_key
    scripted.py          ScriptedClient: answers from a script, with no key and no network
    sdkimport.py         the SDK's import, started early by `diffcrew run` and awaited by the run
                         (so that Ctrl-C is never held up by it)
    tracked.py           TrackedClient: redaction, usage and cost in the ledger, the transcript,
                         progress events, the call budget and retries around any client

`ModelClient.call(ModelRequest) -> ModelReply` is all the roles see. Import from the module that
owns a name; this file imports nothing, so importing one client never loads the others.
"""
