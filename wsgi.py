"""WSGI entry point: `gunicorn wsgi:app`. Starts the job scheduler in this process when
OMS_SCHEDULER is on (the demo); production runs `flask oms scheduler` separately."""
from app import create_app, init_scheduler

app = create_app()
init_scheduler(app)
