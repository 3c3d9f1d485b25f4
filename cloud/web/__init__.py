"""The pages: one module a domain (``network``, ``accounts``, ``machines``, ``codesign``,
``orders``, ``plans``, ``maintenance``), one template layer (``templating``), one router
(``views``)."""
