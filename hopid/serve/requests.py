"""The request and answer bodies of ``hopid serve``: pydantic models, with their limits, from
which FastAPI validates requests and writes ``/openapi.json``."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hopid.search.rerank import RERANK_CHOICES
from hopid.search.searcher import MAX_QUERY_CHARS

MAX_BODY = 8 << 20  # bytes: room for one base64 photo
MAX_K = 1000
MAX_DEPTH = 32  # JSON nesting: the bodies here need 2
Rerank = Literal[RERANK_CHOICES]  # type: ignore[valid-type]


class _Query(BaseModel):
    """What every search takes besides its query."""

    model_config = ConfigDict(extra="forbid", strict=True)  # strict: "5" is not a k, 1 not a boolean

    k: Annotated[int, Field(ge=1, le=MAX_K, description="how many images")] = 10
    dense_only: Annotated[bool, Field(description="the model alone, no scene-text score")] = False
    rerank: Annotated[Rerank | None, Field(description="re-rank by MMRef reference profiles")] = None

    sources: ClassVar[tuple[str, ...]] = ("text", "image")

    @model_validator(mode="after")
    def _one_source(self) -> _Query:
        given = [name for name in self.sources if getattr(self, name) is not None]
        if len(given) != 1:
            names = [repr(name) for name in self.sources]
            raise ValueError(f"give exactly one of {', '.join(names[:-1])} or {names[-1]}")
        return self


class SearchRequest(_Query):
    """``POST /search``: a text or an image (base64, a data URL's prefix allowed)."""

    text: Annotated[str | None, Field(max_length=MAX_QUERY_CHARS, description="the query")] = None
    image: Annotated[str | None, Field(description="a base64 image file", json_schema_extra={"format": "byte"})] = None

    @field_validator("image")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value.split(",", 1)[-1], validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("'image' is not valid base64") from None
        return value

    def image_bytes(self) -> bytes:
        return base64.b64decode((self.image or "").split(",", 1)[-1])


class ResultsRequest(SearchRequest):
    """``POST /api/results``: the body of ``/search``, or ``like``, an indexed image's path."""

    like: Annotated[str | None, Field(max_length=4096, description="an indexed image's path")] = None

    sources: ClassVar[tuple[str, ...]] = ("text", "image", "like")


class Hit(BaseModel):
    """One image of an answer, as ``hopid query --json`` prints it."""

    rank: int
    path: str
    score: float
    dense: float
    text: float = Field(description="the scene-text score")
    matched: list[str] = Field(description="the query words found in the image's OCR")


class OcrWord(BaseModel):
    text: str
    box: list[float] = Field(description="eight coordinates normalised to the image")
    confidence: float
    matched: bool


class GalleryHit(Hit):
    ref: str = Field(description="the path for /thumb, /image and like: relative, each non-UTF-8 byte as NUL+hex")
    ocr: list[OcrWord]
    size: list[int] = Field(description="upright width and height")


class GalleryResults(BaseModel):
    """``POST /api/results``: the hits with their OCR words, and the query's entity words."""

    hits: list[GalleryHit]
    entities: list[str]
    alpha: float = Field(description="the weight of the scene-text score in a hit's score")


class Health(BaseModel):
    status: str
    images: int


class Error(BaseModel):
    error: str


def validation_message(errors: list[dict]) -> str:
    """One line from pydantic's errors: what is wrong with which field."""
    unknown = sorted(str(error["loc"][-1]) for error in errors if error["type"] == "extra_forbidden")
    if unknown:
        return f"unknown field(s): {', '.join(unknown)}"
    error = errors[0]
    fields = [str(part) for part in error["loc"] if part != "body" and not isinstance(part, int)]
    if error["type"] in ("model_attributes_type", "dict_type", "model_type"):
        return "the body must be a JSON object"
    message = str(error.get("ctx", {}).get("error") or error["msg"]) if error["type"] == "value_error" else error["msg"]
    message = message.removeprefix("Value error, ")
    if not fields or message.startswith(f"'{fields[0]}'"):
        return message
    return f"'{fields[0]}': {message}"
