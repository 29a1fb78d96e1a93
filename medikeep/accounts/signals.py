from django.dispatch import Signal

# Sent inside the registration transaction, after the user row exists. Argument: user.
# patients/ listens and creates the self-record patient.
user_registered = Signal()

# Sent when a user's password was changed, by themselves (change-password) or through a reset
# link; inside the request, after the new hash is saved. Arguments: user, via ("change" or
# "reset"). notifications/ tells the user. (Not a post_save on the password column: Django
# rewrites that column by itself when it upgrades a hash at sign-in.)
password_changed = Signal()
