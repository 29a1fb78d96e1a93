"""Single sign-on: provider configuration from the environment, the code flow driven through
allauth's provider layer, account resolution, and the single-use state it needs.

The web app receives the provider's redirect and POSTs `code` and `state` to the API, so
allauth's own redirect views are not used; its providers' OAuth2 adapters and clients are."""
