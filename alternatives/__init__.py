"""Detour's answer after "no": the catalogue of approved routes, their ranking, the helpdesk message.

A leaf library: it knows nothing of detection or HTTP. In: the catalogue IT
edits, the data classes found, who uploads and where to, a language. Out: ranked,
rendered routes and a sorry-and-concrete helpdesk message.
"""
