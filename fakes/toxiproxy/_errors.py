"""API errors, shaped as upstream's: a JSON body ``{"error": message, "status": code}``."""

from __future__ import annotations

__all__ = ["ApiError", "bad_body"]


class ApiError(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status
        self.proxies: list = []  # what /populate managed before failing

    def to_json(self) -> dict:
        return {"error": self.message, "status": self.status}


def bad_body(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)
