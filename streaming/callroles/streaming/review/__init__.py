"""The review page of ``callroles serve``: QA people list results, open one call, listen to it
on its timeline, and set its roles right (a correction, published like ``POST
/calls/{id}/correction``).

Server-rendered HTML with a little vanilla JavaScript, no build step and nothing fetched from
elsewhere: ``routes.py`` (handlers), ``auth.py`` (the token once, then a signed cookie),
``listing.py`` (the newest-first index, filters, paging), ``pages.py`` and ``call_page.py``
(the HTML), ``assets.py`` (its CSS and script), ``audio.py`` (the recording, with ranges).
"""
