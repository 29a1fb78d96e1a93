"""MediKeep settings: embedded defaults, every production switch read from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from medikeep import VERSION, env
from medikeep.accounts.sso.config import PROVIDER_TYPES, SSOSettings, socialaccount_providers
from medikeep.env import (
    env_bool,
    env_choice,
    env_database,
    env_fernet_keys,
    env_int,
    env_list,
    env_networks,
    env_origins,
    env_rate,
    env_redis_url,
    env_str,
    env_timezone,
    env_url,
    secret_key,
)
from medikeep.schedule import PeriodicTask, beat_schedule

# Every bad value below is collected and reported together, one line each, by
# env.end_validation() at the end of this file (docs/configuration.md lists them all).
env.begin_validation()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MEDIKEEP_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = secret_key(VAR_DIR)
# Secrets stored for users (notification channel settings) are encrypted with these Fernet keys
# (comma-separated): the first encrypts, all decrypt. Unset: a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env_fernet_keys("FIELD_ENCRYPTION_KEY")  # or FIELD_ENCRYPTION_KEY_FILE
DEBUG = env_bool("DJANGO_DEBUG", False)
# Where people reach this server: the base of links in emails (invitations, portal, resets).
# Set, it also gives the defaults of the allowed hosts, the trusted origins and (for https)
# the Secure cookie flags; each explicit variable below still wins.
APP_PUBLIC_URL_SET = bool(env_str("APP_PUBLIC_URL"))
APP_PUBLIC_URL = env_url("APP_PUBLIC_URL", "http://localhost:8000") or "http://localhost:8000"
_public = urlsplit(APP_PUBLIC_URL)
PUBLIC_HTTPS = APP_PUBLIC_URL_SET and _public.scheme == "https"
_local_hosts = ["127.0.0.1", "localhost", "[::1]", "testserver"]
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS",
    [_public.hostname, *_local_hosts] if APP_PUBLIC_URL_SET and _public.hostname else _local_hosts,
)
CSRF_TRUSTED_ORIGINS = env_origins("DJANGO_CSRF_TRUSTED_ORIGINS", wildcards=True) or (
    [f"{_public.scheme}://{_public.netloc}"] if APP_PUBLIC_URL_SET else []
)
APP_NAME = "MediKeep"
APP_VERSION = VERSION

INSTALLED_APPS = [
    "medikeep.admin_site.MediKeepAdminConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.openid_connect",
    "medikeep.accounts",
    "patients",
    "records",
    "sharing",
    "notifications",
    "files",
    "adminops",
    "interop",
]

MIDDLEWARE = [
    "medikeep.middleware.ApiHostMiddleware",
    "medikeep.middleware.ContentSecurityPolicyMiddleware",
    "medikeep.middleware.ApiTrailingSlashMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "medikeep.middleware.ApiResponseHeadersMiddleware",
]

ROOT_URLCONF = "medikeep.urls"
WSGI_APPLICATION = "medikeep.wsgi.application"
ASGI_APPLICATION = "medikeep.asgi.application"
# Trailing slashes are handled for the API by ApiTrailingSlashMiddleware; the admin keeps Django's.
APPEND_SLASH = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env_database("DATABASE_URL", sqlite_default=VAR_DIR / "medikeep.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Lets login tell a deactivated account apart once the password has been proven.
    "django.contrib.auth.backends.AllowAllUsersModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Argon2id first: memory-hard, and several times faster per login than PBKDF2 at Django's
# iteration count. PBKDF2 stays so hashes made by it still verify (and are upgraded).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "medikeep.accounts.validators.LetterAndDigitValidator"},
]
PASSWORD_MAX_LENGTH = 128

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_timezone("TZ", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIKEEP_MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # Entity files (files/storage.py is the only code that touches their bytes). Private: no
    # URL route serves MEDIA_ROOT and no storage URL is ever handed out; bytes leave only
    # through the access-checked view and download endpoints. Owner-only on disk.
    "files": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": MEDIA_ROOT / "files",
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
}
FILES_STORAGE = env_choice("FILES_STORAGE", "local", ["local", "s3"])
if FILES_STORAGE == "s3" and not env_str("AWS_STORAGE_BUCKET_NAME"):
    env.invalid("AWS_STORAGE_BUCKET_NAME", "", "the bucket's name (FILES_STORAGE=s3 needs it)")
if FILES_STORAGE == "s3":
    STORAGES["files"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            # Unset endpoint = AWS itself; set it for MinIO and other S3-compatible servers.
            "endpoint_url": env_url("AWS_S3_ENDPOINT_URL") or None,
            # Unset keys fall through to boto3's own chain (instance role, ~/.aws).
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "addressing_style": env_choice(
                "AWS_S3_ADDRESSING_STYLE", "auto", ["auto", "path", "virtual"]
            ),
            "location": env_str("AWS_LOCATION").strip("/"),
            # Objects stay private (bucket policy decides, no ACL granting reads); any URL
            # would be signed; two uploads with one name never replace each other.
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
# Generated custom reports (records/reports/services.py): private like the entity files, in
# the same place under "reports" (a folder under MEDIA_ROOT, or a key prefix in the bucket).
_reports_options = {**STORAGES["files"]["OPTIONS"]}
if FILES_STORAGE == "s3":
    _reports_options["location"] = "/".join(filter(None, [_reports_options["location"], "reports"]))
else:
    _reports_options["location"] = MEDIA_ROOT / "reports"
STORAGES["reports"] = {"BACKEND": STORAGES["files"]["BACKEND"], "OPTIONS": _reports_options}
# Reports of more records than this are built by a Celery task (the request answers 202).
REPORTS_SYNC_MAX_RECORDS = env_int("REPORTS_SYNC_MAX_RECORDS", 2000)
# Largest entity file accepted (the contract's 1 GB), and how long deleted files stay restorable.
FILES_MAX_UPLOAD_BYTES = env_int("FILES_MAX_UPLOAD_BYTES", 1024**3)
FILES_TRASH_RETENTION_DAYS = env_int("FILES_TRASH_RETENTION_DAYS", 7)
# Document back-ends (Paperless-ngx, Papra; files/backends): seconds to wait for an answer,
# and for a connection at most DOCUMENT_BACKEND_CONNECT_TIMEOUT.
DOCUMENT_BACKEND_TIMEOUT = env_int("DOCUMENT_BACKEND_TIMEOUT", 10, minimum=1)
DOCUMENT_BACKEND_CONNECT_TIMEOUT = env_int("DOCUMENT_BACKEND_CONNECT_TIMEOUT", 5, minimum=1)
# Moving a user's local files to a back-end (files/relocation): how long one file may stay in
# the back-end's processing before the regular upload task takes it over, the retries (with
# doubling pauses) when the back-end does not answer, and when a silent job counts as dead.
FILE_MIGRATION_PROCESSING_WAIT_SECONDS = env_int(
    "FILE_MIGRATION_PROCESSING_WAIT_SECONDS", 300, minimum=0
)
FILE_MIGRATION_RETRIES = env_int("FILE_MIGRATION_RETRIES", 2, minimum=0)
FILE_MIGRATION_RETRY_SECONDS = env_int("FILE_MIGRATION_RETRY_SECONDS", 5, minimum=0)
FILE_MIGRATION_STALE_MINUTES = env_int("FILE_MIGRATION_STALE_MINUTES", 30, minimum=1)
# Backups (adminops/backups): archives go to BACKUP_DIR; retention keeps the newest
# BACKUP_MIN_COUNT whatever their age, drops those older than BACKUP_RETENTION_DAYS and any
# beyond the newest BACKUP_MAX_COUNT (admins can change the three at run time). Archives are
# encrypted with age for BACKUP_AGE_RECIPIENTS (public keys, comma- or line-separated) or with
# BACKUP_AGE_PASSPHRASE (one or the other); the server decrypts its own archives for verify and
# restore with BACKUP_AGE_IDENTITIES (secret keys) or the passphrase. Each also takes _FILE.
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(VAR_DIR / "backups")))
BACKUP_RETENTION_DAYS = env_int("BACKUP_RETENTION_DAYS", 30)
BACKUP_MIN_COUNT = env_int("BACKUP_MIN_COUNT", 5)
BACKUP_MAX_COUNT = env_int("BACKUP_MAX_COUNT", 50)
BACKUP_AGE_RECIPIENTS = env_str("BACKUP_AGE_RECIPIENTS")
BACKUP_AGE_PASSPHRASE = env_str("BACKUP_AGE_PASSPHRASE")
BACKUP_AGE_IDENTITIES = env_str("BACKUP_AGE_IDENTITIES")
# Unset: encrypt whenever a recipient or passphrase is configured.
BACKUP_ENCRYPT = env_bool(
    "BACKUP_ENCRYPT", bool(BACKUP_AGE_RECIPIENTS.strip() or BACKUP_AGE_PASSPHRASE)
)
# Largest archive POST /admin/restore/upload accepts (413 beyond); streamed into BACKUP_DIR.
RESTORE_MAX_UPLOAD_BYTES = env_int("RESTORE_MAX_UPLOAD_BYTES", 50 * 1024**3)
# Uploads are written here while they arrive: on the same disk as var/ (a rename, not a copy,
# into local storage) and never in /tmp, which may be a RAM disk.
FILE_UPLOAD_TEMP_DIR = VAR_DIR / "upload-tmp"
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
# Data uploads beyond this are refused before they reach a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# --- Cache and Celery: Redis when REDIS_URL is set, embedded otherwise ---------------------
REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "medikeep.cache.CountingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "medikeep",
            # A Redis that stops answering must cost a request a moment, not hang it: rate
            # limits and the sign-in back-off then count per process (medikeep/api/throttles.py).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = True
else:
    # Files, not process memory: gunicorn workers and the Celery worker share throttle counts
    # and the worker heartbeat.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "results", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # A folder on disk is the broker: the web server, worker and beat share it without Redis.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{_broker_dir / 'results'}"
    # The filesystem transport has no broadcast exchange, so remote control is off.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# The periodic work, declared once. Set the env variable to a crontab ("*/5 * * * *") to move a
# job, or to "disable" to drop it. Later issues only add rows here.
PERIODIC_TASKS = [
    PeriodicTask(
        "worker-heartbeat",
        "adminops.tasks.record_worker_heartbeat",
        "* * * * *",
        "WORKER_HEARTBEAT_CRON",
    ),
    PeriodicTask(
        "expire-invitations-and-shares",
        "sharing.tasks.expire_invitations_and_shares",
        "7 * * * *",
        "SHARING_EXPIRY_CRON",
    ),
    PeriodicTask(
        "purge-expired-file-trash",
        "files.tasks.purge_expired_trash",
        "37 3 * * *",
        "FILES_TRASH_PURGE_CRON",
    ),
    PeriodicTask(
        "check-file-storage",
        "files.tasks.check_storage",
        "47 4 * * 0",
        "FILES_STORAGE_CHECK_CRON",
    ),
    PeriodicTask(
        # Uploads to Paperless-ngx / Papra whose task message was lost are sent again.
        "resume-remote-uploads",
        "files.tasks.resume_remote_uploads",
        "*/15 * * * *",
        "FILES_REMOTE_UPLOAD_SWEEP_CRON",
    ),
    PeriodicTask(
        "flush-expired-tokens",
        "medikeep.accounts.tasks.flush_expired_tokens",
        "17 3 * * *",
        "TOKEN_FLUSH_CRON",
    ),
    PeriodicTask(
        # Cheap: reads the admin's schedule and starts a backup only when one is due.
        "run-due-backup",
        "adminops.tasks.run_due_backup",
        "* * * * *",
        "BACKUP_SCHEDULE_CHECK_CRON",
    ),
    PeriodicTask(
        "plan-medication-reminders",
        "notifications.tasks.plan_reminders",
        "* * * * *",
        "REMINDER_PLAN_CRON",
    ),
    PeriodicTask(
        "sweep-deliveries",
        "notifications.tasks.sweep_deliveries",
        "* * * * *",
        "NOTIFICATION_SWEEP_CRON",
    ),
    PeriodicTask(
        "sweep-reports",
        "records.tasks.sweep_reports",
        "*/5 * * * *",
        "REPORT_SWEEP_CRON",
    ),
    PeriodicTask(
        "prune-notification-history",
        "notifications.tasks.prune_history",
        "27 4 * * *",
        "NOTIFICATION_PRUNE_CRON",
    ),
]
CELERY_BEAT_SCHEDULE = beat_schedule(PERIODIC_TASKS)
# Notification delivery (notifications/delivery.py): a failed send is retried after
# base·2^(n−1) seconds (capped) until the last attempt; a claimed row is the worker's until its
# lease ends, then the sweeper hands it to another (the lease outlasts any send's timeouts).
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5)
NOTIFICATION_RETRY_BASE_SECONDS = env_int("NOTIFICATION_RETRY_BASE_SECONDS", 30)
NOTIFICATION_RETRY_MAX_SECONDS = env_int("NOTIFICATION_RETRY_MAX_SECONDS", 1800)
NOTIFICATION_LEASE_SECONDS = env_int("NOTIFICATION_LEASE_SECONDS", 300)
# The sweeper leaves a due row this long to its own queued task before it queues another.
NOTIFICATION_SWEEP_GRACE_SECONDS = env_int("NOTIFICATION_SWEEP_GRACE_SECONDS", 60)
NOTIFICATION_HISTORY_DAYS = env_int("NOTIFICATION_HISTORY_DAYS", 90)
# Reminders (notifications/reminders.py): each tick also plans slots of the last N minutes, so
# a missed tick (beat restarted) loses nothing; a reminder not sent within the stale limit
# after its dose time is cancelled rather than sent hours late.
REMINDER_CATCH_UP_MINUTES = env_int("REMINDER_CATCH_UP_MINUTES", 10)
REMINDER_STALE_MINUTES = env_int("REMINDER_STALE_MINUTES", 120)
# The heartbeat counts as fresh for this long; health reports the worker as stale after it.
WORKER_HEARTBEAT_STALE_SECONDS = 180
# /system/health shares its checks (database, broker, heartbeat) for this long per process.
HEALTH_CHECK_SECONDS = env_int("HEALTH_CHECK_SECONDS", 5)

# --- Email ----------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "MediKeep <medikeep@localhost>")
# How long a portal invitation link and a password-reset link work.
PORTAL_INVITE_HOURS = env_int("PORTAL_INVITE_HOURS", 168)
PASSWORD_RESET_HOURS = env_int("PASSWORD_RESET_HOURS", 2)
# How long the "taken" / "skipped" links in a medication reminder work (a week by default,
# as long as the dose log takes answers for past doses).
DOSE_ANSWER_LINK_HOURS = env_int("DOSE_ANSWER_LINK_HOURS", 168)
# Django's reset-token generator reads its lifetime from here (seconds).
PASSWORD_RESET_TIMEOUT = PASSWORD_RESET_HOURS * 60 * 60

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "medikeep.api.authentication.BearerOrCookieJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["medikeep.api.throttles.ScopedRateThrottle"],
    "DEFAULT_PARSER_CLASSES": [
        "medikeep.api.parsers.SafeJSONParser",
        "medikeep.api.parsers.SafeFormParser",
        "medikeep.api.parsers.SafeMultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["medikeep.api.renderers.FastJSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "medikeep.api.pagination.SkipLimitPagination",
    "DEFAULT_SCHEMA_CLASS": "medikeep.api.schema.MediKeepAutoSchema",
    "EXCEPTION_HANDLER": "medikeep.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": False,
    "DATETIME_FORMAT": "iso-8601",
}

# Requests per scope; each can be overridden from the environment, e.g. API_RATE_AUTH=30/min.
API_RATES = {
    "standard": env_rate("API_RATE_STANDARD", "100/min"),
    "auth": env_rate("API_RATE_AUTH", "10/min"),
    "upload": env_rate("API_RATE_UPLOAD", "50/hour"),
    "search": env_rate("API_RATE_SEARCH", "30/min"),
    "system": env_rate("API_RATE_SYSTEM", "60/min"),
}
# X-Forwarded-For is believed only when the direct peer is one of these (IPs or CIDRs).
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

ACCESS_TOKEN_MINUTES = env_int("ACCESS_TOKEN_EXPIRE_MINUTES", 480)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("REFRESH_TOKEN_EXPIRE_DAYS", 7)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a hash of the password: changing it ends every session at once.
    "CHECK_REVOKE_TOKEN": True,
    "REVOKE_TOKEN_CLAIM": "pwh",
    "CHECK_USER_IS_ACTIVE": True,
}
# Failed sign-ins per account name, from any address (medikeep/accounts/lockout.py): after
# LOGIN_LOCK_AFTER in a row, sign-in is refused for a back-off that doubles up to the maximum.
LOGIN_LOCK_AFTER = env_int("LOGIN_LOCK_AFTER", 5)
LOGIN_LOCK_SECONDS = env_int("LOGIN_LOCK_SECONDS", 30)
LOGIN_LOCK_MAX_SECONDS = env_int("LOGIN_LOCK_MAX_SECONDS", 900)
LOGIN_FAILURE_MEMORY_SECONDS = 24 * 60 * 60
AUTH_COOKIE_NAME = "medapp_session"
# Secure (sent over HTTPS only) by default when APP_PUBLIC_URL is https.
AUTH_COOKIE_SECURE = env_bool("AUTH_COOKIE_SECURE", PUBLIC_HTTPS)
AUTH_COOKIE_DOMAIN = env_str("AUTH_COOKIE_DOMAIN") or None
ALLOW_USER_REGISTRATION = env_bool("ALLOW_USER_REGISTRATION", True)

# Two-factor sign-in (medikeep/accounts/mfa/): the name authenticator apps show, how long a
# password sign-in waits for its code, and how many wrong codes in a row start a back-off
# (LOGIN_LOCK_SECONDS doubling up to LOGIN_LOCK_MAX_SECONDS, as for passwords).
MFA_ISSUER = env_str("MFA_ISSUER", "MediKeep")
MFA_LOGIN_TOKEN_SECONDS = env_int("MFA_LOGIN_TOKEN_SECONDS", 300)
MFA_LOCK_AFTER = env_int("MFA_LOCK_AFTER", 5)

SPECTACULAR_SETTINGS = {
    "TITLE": "MediKeep API",
    "DESCRIPTION": "Self-hosted personal health records: a Django implementation of the "
    "MediKeep REST API.",  # replaced by medikeep.api.schema.describe_api
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "medikeep.api.schema.describe_api",
    ],
    # Swagger UI would otherwise send the schema to validator.swagger.io (docs stay offline).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

CORS_ALLOWED_ORIGINS = env_origins("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True

# allauth is the SSO layer; local accounts go through the API.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
# --- Single sign-on (docs/compatibility.md "SSO"; README settings table) ---
SSO_ENABLED = env_bool("SSO_ENABLED", False)
SSO_PROVIDER_TYPE = env_choice("SSO_PROVIDER_TYPE", "oidc", PROVIDER_TYPES)
SSO_CLIENT_ID = env_str("SSO_CLIENT_ID")
SSO_CLIENT_SECRET = env_str("SSO_CLIENT_SECRET")  # or SSO_CLIENT_SECRET_FILE
SSO_ISSUER_URL = env_url("SSO_ISSUER_URL")
SSO_REDIRECT_URI = env_url("SSO_REDIRECT_URI")
SSO_ALLOWED_DOMAINS = [d.lower().lstrip("@") for d in env_list("SSO_ALLOWED_DOMAINS")]
SSO_ALLOW_REGISTRATION = env_bool("SSO_ALLOW_REGISTRATION", True)
SSO_ONLY = env_bool("SSO_ONLY", False)
SSO_GITHUB_URL = env_url("SSO_GITHUB_URL")  # GitHub Enterprise Server; unset: github.com
SOCIALACCOUNT_PROVIDERS = socialaccount_providers(
    SSOSettings(
        enabled=SSO_ENABLED,
        provider_type=SSO_PROVIDER_TYPE,
        client_id=SSO_CLIENT_ID,
        client_secret=SSO_CLIENT_SECRET,
        issuer_url=SSO_ISSUER_URL,
        github_url=SSO_GITHUB_URL,
    )
)
SOCIALACCOUNT_QUERY_EMAIL = True  # GitHub: the verified primary address from /user/emails
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10

SESSION_COOKIE_SECURE = AUTH_COOKIE_SECURE
CSRF_COOKIE_SECURE = AUTH_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only: the redirect (behind a proxy, set DJANGO_BEHIND_TLS_PROXY too, or it loops) and
# HSTS, which tells browsers never to use plain HTTP here again for that many seconds.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Probes inside the host or the container network ask over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/?$", r"^api/v1/system/health/?$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Content-Security-Policy of HTML pages that set none themselves (medikeep/middleware.py).
# Scripts only from this server (the API docs' start-up scripts are allowed by hash); inline
# styles are allowed: the admin's change list, Swagger UI and ReDoc write style elements.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env_choice(
    "LOG_LEVEL", "info", ["debug", "info", "warning", "error", "critical"]
).upper()
LOG_DIR = Path(env_str("LOG_DIR", str(VAR_DIR / "logs")))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOG_MAX_BYTES = env_int("LOG_ROTATION_SIZE_MB", 5) * 1024 * 1024
LOG_BACKUP_COUNT = env_int("LOG_ROTATION_BACKUP_COUNT", 30)
LOG_CATEGORIES = {
    "app": "Patient access, API calls, frontend errors, performance events",
    "security": "Authentication failures, refused access, suspicious activity",
}
# LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request_id when
# known) on the console and in the files, for log collectors (medikeep/logs.py).
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ("plain", "json"))
# Loggers whose routine lines (frequent periodic tasks, the embedded broker's notices) are
# moved to DEBUG, so `make run` is not a clock (medikeep/logs.py, RoutineNoticeFilter).
QUIETED_LOGGERS = ("celery.beat", "celery.app.trace", "celery.worker.strategy", "kombu.connection")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "medikeep.logs.JsonLineFormatter"},
    },
    "filters": {"routine_notices": {"()": "medikeep.logs.RoutineNoticeFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
        **{
            category: {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": str(LOG_DIR / f"{category}.log"),
                "maxBytes": LOG_MAX_BYTES,
                "backupCount": LOG_BACKUP_COUNT,
                "formatter": LOG_FORMAT,
                "delay": True,
            }
            for category in LOG_CATEGORIES
        },
    },
    "loggers": {
        "medikeep": {"handlers": ["console", "app"], "level": LOG_LEVEL, "propagate": False},
        "medikeep.security": {
            "handlers": ["console", "security"],
            "level": LOG_LEVEL,
            "propagate": False,
        },
        "adminops": {"handlers": ["console", "app"], "level": LOG_LEVEL, "propagate": False},
        "files": {"handlers": ["console", "app"], "level": LOG_LEVEL, "propagate": False},
        "notifications": {"handlers": ["console", "app"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {"handlers": ["console", "app"], "level": "ERROR"},
        **{name: {"filters": ["routine_notices"]} for name in QUIETED_LOGGERS},
    },
}

# Keep last: stops start-up with every problem found above, one line each.
env.end_validation()
