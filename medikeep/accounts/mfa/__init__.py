"""Two-factor sign-in: TOTP authenticator apps, recovery codes and the login challenge.

Password sign-in (API and Django admin) asks for the second factor once a user has a
confirmed TOTP device. SSO sign-ins do not: the identity provider runs its own second factor.
"""
