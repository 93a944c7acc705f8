"""What proxy channels share: reading intercepted HTTP bodies, deciding on a whole request, the 403 answer.

Used by the ICAP server and ``POST /v1/intercept`` (mitmproxy's add-on); the body
reader serves ``POST /v1/inspect`` too.
"""
