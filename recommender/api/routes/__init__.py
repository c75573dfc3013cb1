"""One APIRouter per resource; ``vibemap.recommender.api.app`` includes them all."""
