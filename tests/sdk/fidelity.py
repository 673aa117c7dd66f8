#!/usr/bin/env python3
"""Drives the gsl-sync simulator with the official Huawei Cloud SDK (huaweicloudsdkgsl==3.1.219), an
independent client: lists every card, reads daily flow (month and date) and month usage, with AK/SK and
with an IAM token. Prints `cards=N` last; exits non-zero on any mismatch.

usage: fidelity.py BASE_URL TODAY(YYYY-MM-DD) [AK SK USER PASSWORD DOMAIN]
"""
import datetime
import json
import os
import sys
import time
import urllib.request

try:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.exceptions import exceptions
    from huaweicloudsdkcore.http.http_handler import HttpHandler
    from huaweicloudsdkcore.region.region import Region
    from huaweicloudsdkgsl.v3 import (GslClient, ListSimCardFlowPerDayRequest, ListSimCardsRequest,
                                      ShowMonthUsageReq, ShowMonthUsagesRequest, ShowSimCardRequest,
                                      SimCardFlowPerDayReq)
except ImportError as e:
    print(f"the official SDK is missing ({e}): run scripts/install-test-deps.sh", file=sys.stderr)
    sys.exit(3)


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def call(fn, req):
    """Retries 429 (APIGW.0308, GSL flow control: 1/s list, 5/s total); the SDK reports it as a RetryError."""
    for _ in range(30):
        try:
            return fn(req)
        except exceptions.ClientRequestException as e:
            if e.status_code != 429:
                raise
            time.sleep(1.1)
    fail("still throttled after 30 tries")


def client(base_url, credentials, handler=None):
    b = GslClient.new_builder().with_credentials(credentials).with_endpoint(base_url)
    if handler is not None:
        b = b.with_http_handler(handler)
    return b.build()


def list_all(c):
    cards, page, count = [], 1, None
    while count is None or len(cards) < count:
        r = call(c.list_sim_cards, ListSimCardsRequest(limit=500, offset=page))
        count = r.count
        if not r.sim_cards:
            break
        cards.extend(r.sim_cards)
        page += 1
    return count, cards


def check_cards(count, cards):
    ids = [c.sim_card_id for c in cards]
    if len(ids) != count or len(set(ids)) != count:
        fail(f"listed {len(ids)} cards ({len(set(ids))} distinct), count says {count}")
    if ids != sorted(ids):
        fail("cards are not in cid order")
    fields = cards[0].to_dict().keys()
    if len(fields) != 38:
        fail(f"SimDeviceVO has {len(fields)} fields")
    for c in cards:
        if c.flow_left is None or c.flow_used is None or not (19 <= len(c.iccid) <= 20):
            fail(f"bad card {c.sim_card_id}")


def check_daily(c, cards, today):
    first = today.replace(day=1)
    month = first if today.day > 1 else (first - datetime.timedelta(days=1)).replace(day=1)
    ids = [x.sim_card_id for x in cards[:100]]
    body = SimCardFlowPerDayReq(sim_card_ids=ids, month=month.strftime("%Y%m"))
    days = call(c.list_sim_card_flow_per_day, ListSimCardFlowPerDayRequest(body=body)).body
    end = min(today, (month + datetime.timedelta(days=32)).replace(day=1))
    if len(days) != (end - month).days:
        fail(f"month {month:%Y%m}: {len(days)} days")
    if any(len(d.sim_flow) != len(ids) for d in days):
        fail("a day lacks cards")
    yesterday = today - datetime.timedelta(days=1)
    iccids = [x.iccid for x in cards[100:200]]
    body = SimCardFlowPerDayReq(iccids=iccids, date=yesterday.strftime("%Y%m%d"))
    days = call(c.list_sim_card_flow_per_day, ListSimCardFlowPerDayRequest(body=body)).body
    if len(days) != 1 or days[0].date != yesterday.strftime("%Y%m%d") or len(days[0].sim_flow) != len(iccids):
        fail("date query")
    return sum(f.flow for d in days for f in d.sim_flow)


def check_months(c, cards, today):
    this = today.strftime("%Y-%m")
    last = (today.replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    ids = [x.sim_card_id for x in cards[:500]]
    body = ShowMonthUsageReq(sim_card_ids=ids, billing_cycles=[this, last])
    usages = call(c.show_month_usages, ShowMonthUsagesRequest(body=body)).month_usages
    if len(usages) != len(ids) or any(len(u.flow_usages) != 2 for u in usages):
        fail("month usages")


def token(base_url, user, password, domain):
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": domain}}}},
        "scope": {"project": {"name": "cn-north-4"}}}}
    req = urllib.request.Request(base_url + "/v3/auth/tokens", data=json.dumps(auth).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        if r.status != 201:
            fail(f"login status {r.status}")
        return r.headers["X-Subject-Token"]


def token_handler(tok):
    """The SDK has no token credentials: swap its AK/SK signature for X-Auth-Token before sending."""
    def inject(**kwargs):
        headers = kwargs["request"].header_params
        for h in ("Authorization", "X-Sdk-Date"):
            headers.pop(h, None)
        headers["X-Auth-Token"] = tok
    return HttpHandler().add_request_handler(inject)


def main():
    base_url, today = sys.argv[1], datetime.date.fromisoformat(sys.argv[2])
    ak, sk, user, password, domain = (sys.argv[3:8] + ["DEMOAK", "DEMOSK", "demo", "demo", "demo"][len(sys.argv[3:8]):])

    # AK/SK with a project id.
    c = client(base_url, BasicCredentials(ak, sk, "0123456789abcdef0123456789abcdef"))
    count, cards = list_all(c)
    check_cards(count, cards)
    check_daily(c, cards, today)
    check_months(c, cards, today)

    # AK/SK without a project id: with a region, the SDK looks the id up through GET /v3/projects, signed.
    os.environ["HUAWEICLOUD_SDK_IAM_ENDPOINT"] = base_url
    c = GslClient.new_builder().with_credentials(BasicCredentials(ak, sk)) \
        .with_region(Region("cn-north-4", base_url)).build()
    one = call(c.show_sim_card, ShowSimCardRequest(sim_card_id=cards[0].sim_card_id))
    if one.iccid != cards[0].iccid:
        fail("detail differs from list")

    # A tampered secret is refused.
    bad = client(base_url, BasicCredentials(ak, sk + "x", "0123456789abcdef0123456789abcdef"))
    try:
        bad.show_sim_card(ShowSimCardRequest(sim_card_id=cards[0].sim_card_id))
        fail("wrong SK accepted")
    except exceptions.ClientRequestException as e:
        if e.status_code != 401:
            raise

    # IAM token.
    tok = token(base_url, user, password, domain)
    c = client(base_url, BasicCredentials(ak, "not-the-secret", "0123456789abcdef0123456789abcdef"), token_handler(tok))
    by_token = call(c.show_sim_card, ShowSimCardRequest(sim_card_id=0, iccid=cards[-1].iccid))
    if by_token.sim_card_id != cards[-1].sim_card_id:
        fail("detail by iccid with token")
    check_daily(c, cards, today)

    print(f"cards={count}")


if __name__ == "__main__":
    main()
