"""``transom.netguard``: the IMPORT_IP_DENY_LIST rule shared by file imports and flows."""

from __future__ import annotations

import ipaddress

import pytest

from transom.api import ip_listed

DEFAULT = ["0.0.0.0", "169.254.169.254"]


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.9",
                                "169.254.169.254", "169.254.1.1", "0.0.0.0", "224.0.0.1",
                                "::1", "::", "fe80::1", "fc00::1", "ff02::1"])
def test_the_wildcard_stands_for_every_local_address(ip: str) -> None:
    assert ip_listed(ipaddress.ip_address(ip), DEFAULT)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass_the_default_list(ip: str) -> None:
    assert not ip_listed(ipaddress.ip_address(ip), DEFAULT)


def test_addresses_and_networks() -> None:
    ten = ipaddress.ip_address("10.9.9.9")
    assert ip_listed(ten, ["10.0.0.0/8"])
    assert ip_listed(ten, [" 10.9.9.9 "])  # entries are trimmed
    assert not ip_listed(ten, ["11.0.0.0/8", "", "not-an-address", "::1"])
    assert not ip_listed(ipaddress.ip_address("127.0.0.1"), ["169.254.169.254"])
    assert ip_listed(ipaddress.ip_address("2001:db8::5"), ["2001:db8::/32"])


def test_without_the_wildcard_0_0_0_0_is_only_itself() -> None:
    """An allow list: ``0.0.0.0`` there lets through that address, not every local one."""
    assert not ip_listed(ipaddress.ip_address("127.0.0.1"), ["0.0.0.0"], local_wildcard=False)
    assert ip_listed(ipaddress.ip_address("0.0.0.0"), ["0.0.0.0"], local_wildcard=False)
    assert ip_listed(ipaddress.ip_address("127.0.0.1"), ["127.0.0.0/8"], local_wildcard=False)
