"""Who is calling: API keys, customers and projects, the in-memory key cache."""

from .cache import KeyCache
from .keys import KeyMaterial, ParsedKey, generate_key, hash_key, parse_key
from .principal import Principal

__all__ = ["KeyCache", "KeyMaterial", "ParsedKey", "Principal", "generate_key", "hash_key", "parse_key"]
