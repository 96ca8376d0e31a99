"""The data contract's vocabularies: plain tuples, importable without pandas or pyarrow.

The ORM models take their CHECK constraints from here; the file contract
(tutorpulse.tutors.contract) validates imports against the same values.
"""

from __future__ import annotations

SUBJECT_SEPARATOR = ";"
EVENT_TYPES = (
    "login",
    "session_scheduled",
    "session_completed",
    "profile_updated",
    "availability_updated",
    "message_sent",
    "training_completed",
    "opportunity_viewed",
    "email_opened",
    "email_clicked",
    "coaching_scheduled",
    "coaching_attended",
)
INITIATOR = ("tutor", "student")
TUTOR_STATUSES = ("active", "paused", "churned")
CERTIFICATION_LEVELS = ("basic", "advanced", "expert")
GRADE_LEVELS = ("elementary", "middle_school", "high_school", "college", "adult")
SESSION_STATUSES = (
    "scheduled",
    "completed",
    "tutor_no_show",
    "student_no_show",
    "cancelled",
    "rescheduled",
)
