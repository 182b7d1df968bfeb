"""Reference peer for bench/api: the original stack rebuilt with the same routes.

FastAPI + SQLAlchemy 2 (ORM, sync sessions, as in the FastAPI SQL tutorial)
served by uvicorn, on the same kind of database as srp-api in the benchmark:
a SQLite file in WAL mode. Only what the benchmark exercises plus the rest of
the CRUD, with the same validation rules, so the work per request is alike.
"""

import os
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, String, create_engine, event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///./peer.db")

engine = create_engine(
    DATABASE_URL,
    connect_args={"check_same_thread": False} if DATABASE_URL.startswith("sqlite") else {},
)

if DATABASE_URL.startswith("sqlite"):
    # The same journal settings as srp-api, so the database is not the difference.
    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


SessionLocal = sessionmaker(bind=engine, autoflush=False)


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Base.metadata.create_all(engine)

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=NAME)
    description: str | None = Field(default="", max_length=1000)


class ProjectPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=NAME)
    description: str | None = Field(default=None, max_length=1000)


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class Page(BaseModel):
    items: list[ProjectOut]
    limit: int
    offset: int
    next_offset: int | None


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


Db = Annotated[Session, Depends(get_db)]
app = FastAPI(title="SRP API (FastAPI reference peer)")


@app.get("/health")
def health(db: Db):
    db.execute(text("SELECT 1"))
    return {"status": "ok", "checks": {"database": {"ok": True}}}


@app.get("/projects", response_model=Page)
def list_projects(
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    rows = db.scalars(select(Project).order_by(Project.id).limit(limit + 1).offset(offset)).all()
    more = len(rows) > limit
    return Page(items=rows[:limit], limit=limit, offset=offset, next_offset=offset + limit if more else None)


@app.post("/projects", status_code=201, response_model=ProjectOut)
def create_project(body: ProjectIn, response: Response, db: Db):
    now = datetime.now(timezone.utc)
    project = Project(name=body.name, description=body.description or "", created_at=now, updated_at=now)
    db.add(project)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, f"a project named {body.name!r} already exists")
    db.refresh(project)
    response.headers["Location"] = f"/projects/{project.id}"
    return project


def _get(db: Session, project_id: int) -> Project:
    project = db.get(Project, project_id)
    if project is None:
        raise HTTPException(404, f"no project with id {project_id}")
    return project


@app.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: int, db: Db):
    return _get(db, project_id)


@app.patch("/projects/{project_id}", response_model=ProjectOut)
def patch_project(project_id: int, body: ProjectPatch, db: Db):
    project = _get(db, project_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(project, field, value if value is not None else "")
    project.updated_at = datetime.now(timezone.utc)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, "name already taken")
    db.refresh(project)
    return project


@app.delete("/projects/{project_id}", status_code=204)
def delete_project(project_id: int, db: Db):
    db.delete(_get(db, project_id))
    db.commit()
    return Response(status_code=204)
