from django.dispatch import Signal

# Sent inside the registration transaction, after the user row exists. Argument: user.
# patients/ listens and creates the self-record patient.
user_registered = Signal()
