import factory

from medikeep.accounts.choices import UserRole
from medikeep.accounts.models import User

DEFAULT_PASSWORD = "Correct-horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = UserRole.USER

    @classmethod
    def _create(cls, model_class, *args, password=DEFAULT_PASSWORD, **kwargs):
        # The password is set before the first save, as the services do: a flag given with
        # it (must_change_password) then stays, as a one-time password's does (User.save).
        user = model_class(*args, **kwargs)
        user.set_password(password)
        user.save()
        return user


class AdminFactory(UserFactory):
    role = UserRole.ADMIN
