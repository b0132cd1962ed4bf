"""The client's built-in default equals loading the documented sample configuration."""

from __future__ import annotations

from typing import Dict

import pytest

from passthrough_client import ConfigError, PassthroughClient, load_config
from passthrough_client._client_setup import SAMPLE_CONFIG


@pytest.mark.parametrize(
    "environ",
    [
        {"PASSTHROUGH_URL": "http://127.0.0.1:8321"},
        {"PASSTHROUGH_URL": "https://h.example/v1", "PASSTHROUGH_API_KEY": "sk-1"},
        {"PASSTHROUGH_URL": "http://h", "PASSTHROUGH_API_KEY": ""},
    ],
)
def test_default_config_equals_the_loaded_sample(environ: Dict[str, str]) -> None:
    """Without a config the client is configured exactly as the sample would load."""
    client = PassthroughClient(environ=environ)
    assert load_config(SAMPLE_CONFIG, environ=environ) == client.config


@pytest.mark.parametrize("environ", [{}, {"PASSTHROUGH_URL": ""}])
def test_default_config_without_url_names_the_variable(environ: Dict[str, str]) -> None:
    """No PASSTHROUGH_URL and no base_url= is a ConfigError naming the variable, as the sample's."""
    with pytest.raises(ConfigError) as caught:
        PassthroughClient(environ=environ)
    with pytest.raises(ConfigError) as loaded:
        load_config(SAMPLE_CONFIG, environ=environ)
    assert caught.value.errors[0].startswith(loaded.value.errors[0].split(";")[0])


def test_explicit_empty_base_url_is_reported_as_a_bad_url() -> None:
    """base_url='' is validated as a URL, not mistaken for a missing variable."""
    with pytest.raises(ConfigError, match="base_url: must be an http"):
        PassthroughClient(base_url="", environ={})
