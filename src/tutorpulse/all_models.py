"""Import every domain's models so the metadata is complete (Alembic, tests)."""

from tutorpulse.alerts import models as alerts_models
from tutorpulse.analytics import models as analytics_models
from tutorpulse.core import models as core_models
from tutorpulse.core.db import Base
from tutorpulse.email import models as email_models
from tutorpulse.engagement import models as engagement_models
from tutorpulse.experiments import models as experiments_models
from tutorpulse.insights import models as insights_models
from tutorpulse.interventions import models as interventions_models
from tutorpulse.risk import models as risk_models
from tutorpulse.sessions import models as sessions_models
from tutorpulse.tutors import models as tutors_models

metadata = Base.metadata

__all__ = [
    "alerts_models",
    "analytics_models",
    "core_models",
    "email_models",
    "engagement_models",
    "experiments_models",
    "insights_models",
    "interventions_models",
    "metadata",
    "risk_models",
    "sessions_models",
    "tutors_models",
]
