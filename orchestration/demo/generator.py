"""Deterministic, vectorised demo data for every landing extract (SPEC §12).

The generator simulates a B2B funnel rather than drawing columns independently: every lead has
a latent *fit* (ICP match) and *interest*; interest drives how much and what kind of prospect
activity it shows; hand-raises lead to sales touches (with realistic and late SLA delays),
BANT qualifications, recycles, opportunities and wins, all with probabilities that rise with
fit and interest, so that scoring calibration finds real signal.

Everything is drawn from one seeded numpy Generator in a fixed order and written with fixed
formats, so a seed gives the same bytes on any day. No per-row Python loops: 1 M leads and
~30 M activities take minutes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DEFAULT_END_DATE = date(2026, 11, 22)  # a Sunday: the last ISO week of the demo is complete
HISTORY_DAYS = 548  # about 18 months
DAY = 86_400
HOUR = 3_600

# ---------------------------------------------------------------- vocabularies

INDUSTRIES = np.array([
    "software", "financial_services", "it_services", "manufacturing", "healthcare",
    "retail", "education", "government", "media", "consulting",
])
INDUSTRY_P = np.array([0.17, 0.12, 0.10, 0.12, 0.10, 0.10, 0.08, 0.05, 0.06, 0.10])
ICP_INDUSTRIES = {"software", "financial_services", "it_services", "manufacturing"}

COUNTRIES = np.array(["US", "GB", "DE", "FR", "NL", "CA", "ES", "IN", "BR", "AU"])
COUNTRY_P = np.array([0.33, 0.12, 0.11, 0.10, 0.05, 0.06, 0.05, 0.08, 0.06, 0.04])
ICP_COUNTRIES = {"US", "GB", "DE", "FR", "NL", "CA"}
EUR_COUNTRIES = {"DE", "FR", "NL", "ES"}

# title, department, seniority, weight, fit weight (how much the persona is a buyer)
PERSONAS = [
    ("IT Manager", "it", "manager", 0.10, 1.0),
    ("Head of IT", "it", "director", 0.06, 1.0),
    ("CTO", "it", "c_level", 0.04, 1.0),
    ("VP Engineering", "engineering", "vp", 0.04, 0.9),
    ("Engineering Manager", "engineering", "manager", 0.06, 0.8),
    ("Software Engineer", "engineering", "individual_contributor", 0.10, 0.2),
    ("Head of Operations", "operations", "director", 0.05, 0.8),
    ("Operations Manager", "operations", "manager", 0.06, 0.6),
    ("CFO", "finance", "c_level", 0.03, 0.8),
    ("Finance Director", "finance", "director", 0.04, 0.7),
    ("Marketing Manager", "marketing", "manager", 0.09, 0.2),
    ("Data Analyst", "data", "individual_contributor", 0.08, 0.2),
    ("Procurement Officer", "procurement", "individual_contributor", 0.05, 0.4),
    ("Consultant", "consulting", "individual_contributor", 0.07, 0.1),
    ("HR Generalist", "hr", "individual_contributor", 0.05, 0.0),
    ("Student", "education", "student", 0.05, 0.0),
    ("Marketing Intern", "marketing", "intern", 0.03, 0.0),
]
FIRST_NAMES = np.array([
    "anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jack",
    "karin", "liam", "maria", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara",
    "umar", "vera", "will", "xena", "yusuf", "zoe", "luca", "mei", "omar", "priya",
])
LAST_NAMES = np.array([
    "smith", "muller", "martin", "garcia", "rossi", "jansen", "kowalski", "nguyen", "brown",
    "dubois", "fischer", "lopez", "silva", "patel", "wilson", "moreau", "weber", "khan",
    "taylor", "novak", "berg", "costa", "ivanov", "kim", "sato", "olsen", "wright", "meyer",
])
NAME_PARTS_A = np.array(["nova", "blue", "quant", "apex", "terra", "vertex", "luma", "octo",
                         "hyper", "zen", "polar", "iron", "swift", "clear", "bright", "core"])
NAME_PARTS_B = np.array(["soft", "tek", "works", "labs", "systems", "data", "logic", "grid",
                         "ware", "metrics", "scale", "forge", "point", "wave", "base", "stack"])
PERSONAL_DOMAINS = np.array(["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.de"])
COMPETITOR_DOMAINS = np.array(["rivalfunnel.com", "competiq.io"])
OWN_DOMAIN = "leadfunnel.io"

# Inbound channels: group, lead_source as a CRM writes it, and campaigns
# (platform, campaign_id, utm_source, utm_medium, utm_campaign, currency, cost per lead).
CHANNELS = [
    ("paid_search", "Paid Search", 0.22, [
        ("google_ads", "gads-brand", "google", "cpc", "brand_search", "USD", 45.0),
        ("google_ads", "gads-generic", "google", "cpc", "generic_search", "USD", 95.0),
        ("microsoft_ads", "bing-generic", "bing", "cpc", "generic_search_bing", "USD", 70.0),
    ]),
    ("paid_social", "Paid Social", 0.16, [
        ("linkedin_ads", "li-abm", "linkedin", "paid_social", "abm_enterprise", "EUR", 160.0),
        ("linkedin_ads", "li-leadgen", "linkedin", "paid_social", "leadgen_forms", "EUR", 110.0),
        ("meta_ads", "fb-retarget", "facebook", "paid_social", "retargeting", "GBP", 60.0),
    ]),
    # UTMs that the channel mapping does not know: spend must stay visible as unattributed.
    ("unmapped", "Other", 0.03, [
        ("tiktok_ads", "tt-creators", "tiktok", "influencer", "creator_collab", "EUR", 40.0),
    ]),
    ("organic_search", "Organic Search", 0.20, [(None, None, "google", "organic", None, None, 0)]),
    ("referral", "Referral", 0.07, [(None, None, "g2", "referral", None, None, 0)]),
    ("events", "Event", 0.07, [(None, None, "webinar", "event", "monthly_webinar", None, 0)]),
    ("email", "Email", 0.10, [(None, None, "newsletter", "email", "nurture", None, 0)]),
    ("direct", "Direct", 0.10, [(None, None, None, None, None, None, 0)]),
    ("partner", "Partner", 0.05, [(None, None, "partner_portal", "partner", None, None, 0)]),
]

PROSPECT_TYPES = np.array([
    "page_view", "email_open", "email_click", "content_download", "webinar_registration",
    "webinar_attended", "pricing_page_view", "form_submit", "demo_request", "contact_request",
])
LOW_INTENT_P = np.array([0.46, 0.30, 0.09, 0.07, 0.03, 0.02, 0.015, 0.01, 0.003, 0.002])
HIGH_INTENT_P = np.array([0.30, 0.12, 0.12, 0.09, 0.06, 0.06, 0.16, 0.04, 0.035, 0.015])
HAND_RAISE = {"demo_request", "contact_request"}

# The `lead_origin` variant (DemoConfig.signal): how the lead came in - a column of the
# export's own, not of the contract - decides whether it converts; fit and engagement do not.
# (value, share of inbound leads, effect on the log-odds of sales accepting it)
LEAD_ORIGINS = [("Landing Page Submission", 0.35, 0.5), ("API", 0.30, -2.5),
                ("Lead Add Form", 0.15, 3.0), ("Lead Import", 0.12, -3.5),
                ("Quick Add Form", 0.08, 1.5)]

REJECT_REASONS = np.array(["no budget", "not the decision maker", "no project", "bad timing",
                           "using a competitor", "not a fit"])
# Rejections for these reasons are nurture cases: some of those leads come back later.
NURTURE_REASONS = ["no budget", "no project", "bad timing"]
RECYCLE_REASONS = np.array(["not now - nurture", "project next year", "re-engage later"])
LOST_REASONS = np.array(["price", "competitor", "no decision", "timing"])

FX_START = {"EUR": 1.08, "GBP": 1.27}
SDR_TEAMS = [("sdr_north_america", "USD", 6), ("sdr_emea", "EUR", 4)]
SDR_MONTHLY_COST = {"USD": 7_500.0, "EUR": 6_200.0}


@dataclass(frozen=True)
class DemoConfig:
    leads: int = 20_000
    seed: int = 42
    end_date: date = DEFAULT_END_DATE
    dirty_rate: float = 0.005
    activities_per_lead: float = 30.0
    file_format: str = "csv"  # or "parquet"
    # Leads simulated at once (about 6 GiB of memory per million): more leads are simulated
    # in shards of this size, each written to files of its own, so memory stays bounded.
    shard_leads: int = 1_000_000
    # What drives conversion: "icp" (fit and engagement, as the definitions in force expect)
    # or "lead_origin" (only a column of the export's own; sales work every inbound lead).
    signal: str = "icp"


@dataclass
class DemoResult:
    out_dir: Path
    rows: dict[str, int]
    files: int
    bytes: int


# ---------------------------------------------------------------- helpers


def _pick(rng: np.random.Generator, values: np.ndarray, p: np.ndarray, n: int) -> np.ndarray:
    return values[rng.choice(len(values), size=n, p=p / p.sum())]


def _ts(seconds: np.ndarray) -> pa.Array:
    """Epoch seconds (int64, -1 = missing) -> Arrow timestamp column."""
    arr = pa.array(seconds.astype("datetime64[s]"))
    return pc.if_else(pa.array(seconds < 0), pa.scalar(None, arr.type), arr)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    # large_string: 32-bit offsets cap a string column at 2 GiB (about 90 M activity ids)
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.large_string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix, pa.large_string()), digits,
                                       pa.scalar("", pa.large_string()))


def _str(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(values, type=pa.string(), mask=missing)


def _push_out_of_weekend(ts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sales people work weekdays: a touch that would land on a weekend moves to Monday."""
    weekday = ((ts // DAY) + 3) % 7  # 1970-01-01 was a Thursday -> Monday = 0
    shift = np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
    monday_morning = (ts // DAY + shift) * DAY + (7 * HOUR + rng.integers(0, 3 * HOUR, len(ts)))
    return np.where(shift > 0, monday_morning, ts)


# ---------------------------------------------------------------- the simulation


class _Sim:
    def __init__(self, cfg: DemoConfig, rng: np.random.Generator | None = None,
                 bases: dict[str, int] | None = None):
        self.cfg = cfg
        self.rng = rng or np.random.default_rng(cfg.seed)
        # numbers already taken by earlier shards: this shard's ids follow them
        self.base = {"lead": 0, "activity": 0, "qualification": 0, "opportunity": 0,
                     **(bases or {})}
        end = datetime(cfg.end_date.year, cfg.end_date.month, cfg.end_date.day) + timedelta(days=1)
        self.end_ts = int((end - datetime(1970, 1, 1)).total_seconds())  # exclusive
        self.start_ts = self.end_ts - HISTORY_DAYS * DAY

    # -- companies and leads
    def companies(self) -> None:
        rng, n = self.rng, max(200, self.cfg.leads // 3)
        self.n_comp = n
        self.comp_industry = _pick(rng, INDUSTRIES, INDUSTRY_P, n)
        self.comp_employees = np.clip(np.round(rng.lognormal(4.3, 1.7, n)), 1, 250_000).astype(int)
        self.comp_country = _pick(rng, COUNTRIES, COUNTRY_P, n)
        a = NAME_PARTS_A[rng.integers(0, len(NAME_PARTS_A), n)]
        b = NAME_PARTS_B[rng.integers(0, len(NAME_PARTS_B), n)]
        idx = np.arange(n).astype(str)
        self.comp_slug = np.char.add(np.char.add(a, b), idx)
        self.comp_name = np.char.add(np.char.add(np.char.capitalize(a), np.char.capitalize(b)),
                                     np.char.add(" ", idx))
        tld = np.where(np.isin(self.comp_country, ["DE"]), ".de",
                       np.where(np.isin(self.comp_country, ["GB"]), ".co.uk", ".com"))
        self.comp_domain = np.char.add(self.comp_slug, tld)
        icp_ind = np.isin(self.comp_industry, list(ICP_INDUSTRIES))
        icp_size = (self.comp_employees >= 50) & (self.comp_employees <= 5000)
        icp_geo = np.isin(self.comp_country, list(ICP_COUNTRIES))
        self.comp_fit = 1.0 * icp_ind + 0.9 * icp_size + 0.5 * icp_geo

    def adopt_companies(self, other: _Sim) -> None:
        """Shards share one set of companies: a company's leads may fall in any shard."""
        for name in ("n_comp", "comp_industry", "comp_employees", "comp_country", "comp_slug",
                     "comp_name", "comp_domain", "comp_fit"):
            setattr(self, name, getattr(other, name))

    def leads(self) -> None:
        rng, n = self.rng, self.cfg.leads
        self.n = n
        # Creation day: growth over time, fewer leads at weekends.
        days = np.arange(HISTORY_DAYS)
        day_ts = self.start_ts + days * DAY
        weekday = ((day_ts // DAY) + 3) % 7
        w = (0.7 + 0.6 * days / HISTORY_DAYS) * np.where(weekday >= 5, 0.35, 1.0)
        day = rng.choice(HISTORY_DAYS, size=n, p=w / w.sum())
        secs = np.clip(rng.normal(14.5 * HOUR, 3.5 * HOUR, n), 0, DAY - 1).astype(np.int64)
        self.created = np.sort(day_ts[day] + secs)  # lead ids follow creation order

        outbound = rng.random(n) < 0.24
        # SDRs prospect ICP companies: outbound leads sample companies by fit.
        comp_w = np.exp(0.9 * self.comp_fit)
        comp_in = rng.integers(0, self.n_comp, n)
        comp_out = rng.choice(self.n_comp, size=n, p=comp_w / comp_w.sum())
        self.company = np.where(outbound, comp_out, comp_in)
        self.outbound = outbound

        persona_w = np.array([p[3] for p in PERSONAS])
        persona = rng.choice(len(PERSONAS), size=n, p=persona_w / persona_w.sum())
        # Outbound never targets students and interns.
        low = np.isin(persona, [i for i, p in enumerate(PERSONAS) if p[2] in ("student", "intern")])
        persona = np.where(outbound & low, 0, persona)
        self.persona = persona
        self.title = np.array([p[0] for p in PERSONAS])[persona]
        self.department = np.array([p[1] for p in PERSONAS])[persona]
        self.seniority = np.array([p[2] for p in PERSONAS])[persona]
        persona_fit = np.array([p[4] for p in PERSONAS])[persona]

        first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
        last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)]
        kind = rng.random(n)
        self.personal = (~outbound) & (kind < 0.08)
        self.competitor = (~outbound) & (kind >= 0.08) & (kind < 0.085)
        self.own = (~outbound) & (kind >= 0.085) & (kind < 0.088)
        self.test = (~outbound) & (kind >= 0.088) & (kind < 0.091)
        domain = self.comp_domain[self.company].astype(object)
        domain = np.where(self.personal, PERSONAL_DOMAINS[rng.integers(0, 5, n)], domain)
        domain = np.where(self.competitor, COMPETITOR_DOMAINS[rng.integers(0, 2, n)], domain)
        domain = np.where(self.own, OWN_DOMAIN, domain)
        domain = np.where(self.test, "example.com", domain)
        local = np.char.add(np.char.add(first, "."), last).astype(object)
        local = np.where(self.test, "test", local)
        number = (self.base["lead"] + np.arange(n)).astype(str)
        self.email = (local + np.char.add(".", number).astype(object)
                      + "@" + domain)
        self.domain = domain
        self.first, self.last = first, last

        excluded = self.personal | self.competitor | self.own | self.test | low
        self.excluded_truth = excluded
        self.fit = np.where(excluded, -1.0, self.comp_fit[self.company] + 1.2 * persona_fit)
        self.interest = rng.normal(0, 1, n) + 0.45 * (self.fit - 1.5)
        if self.cfg.signal == "lead_origin":
            share = np.array([o[1] for o in LEAD_ORIGINS])
            self.origin = rng.choice(len(LEAD_ORIGINS), size=n, p=share / share.sum())

        # Inbound channel and campaign.
        ch_p = np.array([c[2] for c in CHANNELS])
        ch = rng.choice(len(CHANNELS), size=n, p=ch_p / ch_p.sum())
        camp = np.zeros(n, dtype=int)
        for i, c in enumerate(CHANNELS):
            sel = ch == i
            camp[sel] = rng.integers(0, len(c[3]), sel.sum())
        self.channel, self.campaign = ch, camp

        reps = max(4, n // 900)
        self.n_reps = reps
        self.owner = rng.integers(0, reps, n)

    def _quality(self) -> np.ndarray:
        """What makes a lead convert: its fit, or in the lead_origin variant its origin."""
        if self.cfg.signal == "lead_origin":
            return np.array([o[2] for o in LEAD_ORIGINS])[self.origin]
        return np.where(self.fit < 0, -2.0, self.fit - 1.8)

    # -- activities
    def _prospect_burst(self, lead: np.ndarray, start: np.ndarray, mean_n: np.ndarray,
                        span_days: np.ndarray, intent: np.ndarray):
        """Prospect activities of a set of leads: counts, times and types, vectorised."""
        rng = self.rng
        counts = rng.poisson(mean_n)
        counts = np.maximum(counts, 1)
        idx = np.repeat(np.arange(len(lead)), counts)
        first = np.r_[0, np.cumsum(counts)[:-1]]
        pos = np.arange(len(idx)) - first[idx]
        offset = rng.exponential(1.0, len(idx)) * span_days[idx] * DAY
        offset = np.where(pos == 0, 0, offset).astype(np.int64)  # first at the burst start
        ts = start[idx] + offset
        high = rng.random(len(idx)) < intent[idx]
        types = np.where(
            high,
            rng.choice(len(PROSPECT_TYPES), len(idx), p=HIGH_INTENT_P / HIGH_INTENT_P.sum()),
            rng.choice(len(PROSPECT_TYPES), len(idx), p=LOW_INTENT_P / LOW_INTENT_P.sum()),
        )
        # The activity that created an inbound lead is a form fill or a download.
        types = np.where(pos == 0, np.where(rng.random(len(idx)) < 0.6, 7, 3), types)
        keep = ts < self.end_ts
        return lead[idx][keep], ts[keep], types[keep]

    @staticmethod
    def _first_time(lead: np.ndarray, ts: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
        out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(out, lead[mask], ts[mask])
        return out

    def _fit_points(self) -> np.ndarray:
        """Fit score of every lead as the definitions' fit rules give it."""
        from orchestration.funnel_definitions import load_definitions

        attrs = {
            "industry": self.comp_industry[self.company],
            "employee_count": self.comp_employees[self.company],
            "country_code": self.comp_country[self.company],
            "department": self.department,
            "seniority": self.seniority,
        }
        points = np.zeros(self.n)
        for rule in load_definitions().resolved_fit_rules():
            values = attrs.get(rule["attribute"])
            if values is None:
                continue
            if rule["match"] == "range":
                lo = -np.inf if rule["min"] is None else rule["min"]
                hi = np.inf if rule["max"] is None else rule["max"]
                hit = (values >= lo) & (values <= hi)
            else:
                wanted = [str(v).lower() for v in rule["values"]]
                hit = np.isin(np.char.lower(values.astype(str)), wanted)
            points += np.where(hit, rule["points"], 0)
        return np.clip(points, 0, 100)

    def _automation_mql_times(self, lead: np.ndarray, ts: np.ndarray, kind: np.ndarray) -> np.ndarray:
        from orchestration.funnel_definitions import load_definitions

        d = load_definitions()
        never = np.iinfo(np.int64).max
        rule = {r.activity_type: r for r in d.engagement.rules}
        pts = np.array([rule[t].points if t in rule else 0.0 for t in PROSPECT_TYPES])
        cap = np.array([rule[t].cap if t in rule and rule[t].cap else np.inf for t in PROSPECT_TYPES])
        fast = np.isin(PROSPECT_TYPES, d.engagement.fast_track)
        # points per activity after each type's cap, counted in time order
        order = np.lexsort((ts, kind, lead))
        ld, k = lead[order], kind[order]
        raw = pts[k]
        group_start = np.r_[True, (ld[1:] != ld[:-1]) | (k[1:] != k[:-1])]
        csum = np.cumsum(raw)
        before = csum - raw - np.maximum.accumulate(np.where(group_start, csum - raw, 0))
        counted = np.clip(np.minimum(raw, cap[k] - before), 0, None)
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        counted = counted[back]
        order = np.lexsort((ts, lead))
        ld, t, c, k = lead[order], ts[order], counted[order], kind[order]
        lead_start = np.r_[True, ld[1:] != ld[:-1]]
        csum = np.cumsum(c)
        engagement = csum - np.maximum.accumulate(np.where(lead_start, csum - c, 0))
        fit = self._fit_points()[ld]
        score = d.mql.fit_weight * fit + d.mql.engagement_weight * np.minimum(engagement, 100)
        hit = (fit >= d.mql.min_fit) & ((score >= d.mql.threshold) | fast[k])
        out = np.full(self.n, never, dtype=np.int64)
        np.minimum.at(out, ld[hit], t[hit])
        return out

    def activities_and_sales(self) -> None:
        rng, n = self.rng, self.n
        never = np.iinfo(np.int64).max
        inbound = ~self.outbound
        intent = 1 / (1 + np.exp(-(self.interest - 0.8)))
        mean_n = self.cfg.activities_per_lead * 1.05 * np.exp(0.55 * self.interest)
        mean_n = np.where(self.outbound, 3.0, mean_n)
        span = rng.uniform(10, 60, n)
        lead_ids = np.arange(n)
        a_lead, a_ts, a_type = self._prospect_burst(lead_ids, self.created, mean_n, span,
                                                    np.where(self.outbound, 0.15, intent))

        # Handover: the company's marketing automation alerts sales when its score crosses
        # the threshold (it scores like the definitions file, without decay) or on a hand-raise.
        handover = self._automation_mql_times(a_lead, a_ts, a_type)
        handover = np.where(inbound & ~self.excluded_truth, handover, never)
        # Outbound: the SDR's sequence starts at creation.
        handover = np.where(self.outbound, self.created, handover)
        if self.cfg.signal == "lead_origin":  # sales call every inbound lead within hours
            handover = np.where(inbound & ~self.excluded_truth,
                                self.created + rng.integers(HOUR, 6 * HOUR, n), handover)
        self.handover = handover
        has_ho = handover < self.end_ts

        # First sales touch: mostly fast, some late, some never (SLA realism).
        u = rng.random(n)
        delay = np.where(u < 0.62, rng.lognormal(np.log(3 * HOUR), 0.9, n),
                         np.where(u < 0.86, rng.lognormal(np.log(30 * HOUR), 0.4, n),
                                  rng.uniform(50 * HOUR, 140 * HOUR, n)))
        never_touched = (u > (0.99 if self.cfg.signal == "lead_origin" else 0.93)) & inbound
        delay = np.where(self.outbound, 0, delay).astype(np.int64)
        touch = _push_out_of_weekend(handover + delay, rng) if n else handover
        touched = has_ho & ~never_touched & (touch < self.end_ts)
        self.first_touch = np.where(touched, touch, never)

        # Qualification conversation a few days after the first touch.
        fit_z = self._quality()
        p_meet = np.where(self.outbound, 0.22 + 0.08 * fit_z,
                          0.92 if self.cfg.signal == "lead_origin" else 0.75)
        meets = touched & (rng.random(n) < np.clip(p_meet, 0.02, 0.95))
        q_time = _push_out_of_weekend(self.first_touch + rng.integers(1, 9, n) * DAY, rng)
        meets &= q_time < self.end_ts
        if self.cfg.signal == "lead_origin":
            logit = -0.6 + fit_z
        else:
            logit = -0.6 + 1.1 * fit_z + 0.7 * self.interest + np.where(self.outbound, 0.4, 0.0)
        p_acc = 1 / (1 + np.exp(-logit))
        r = rng.random(n)
        outcome = np.where(r < p_acc, 0, np.where(rng.random(n) < 0.3, 2, 1))  # 0 acc 1 rej 2 rec
        self.q1_reason = rng.integers(0, len(REJECT_REASONS), n)
        self.q1 = (meets, q_time, outcome)

        # Recycled leads, and leads rejected for a nurture reason (timing, budget, no project
        # yet): about half come back with a second burst and a second conversation.
        nurture = (outcome == 1) & np.isin(REJECT_REASONS[self.q1_reason], NURTURE_REASONS)
        rec = meets & ((outcome == 2) | nurture) & (rng.random(n) < 0.55)
        back = q_time + rng.integers(30, 120, n) * DAY
        rec &= back < self.end_ts
        r_leads = lead_ids[rec]
        # A lead that comes back went quiet in between: its return opens the new episode.
        quiet = rec[a_lead] & (a_ts > q_time[a_lead]) & (a_ts < back[a_lead])
        a_lead, a_ts, a_type = a_lead[~quiet], a_ts[~quiet], a_type[~quiet]
        b_lead, b_ts, b_type = self._prospect_burst(
            r_leads, back[rec], np.full(len(r_leads), 8.0), np.full(len(r_leads), 12.0),
            np.full(len(r_leads), 0.7))
        b_type = np.where(np.r_[True, np.diff(b_lead) != 0], 8, b_type)  # returns with a demo request
        hr2 = np.full(n, never, dtype=np.int64)
        hr2[r_leads] = back[rec]
        touch2 = _push_out_of_weekend(hr2 + rng.lognormal(np.log(5 * HOUR), 0.8, n).astype(np.int64), rng)
        touched2 = rec & (touch2 < self.end_ts)
        q2_time = _push_out_of_weekend(touch2 + rng.integers(1, 7, n) * DAY, rng)
        meets2 = touched2 & (q2_time < self.end_ts) & (rng.random(n) < 0.8)
        outcome2 = np.where(rng.random(n) < np.clip(p_acc + 0.15, 0, 0.95), 0, 1)
        self.q2 = (meets2, q2_time, outcome2)
        self.touch2 = np.where(touched2, touch2, never)

        # Sales activities: first touch, a follow-up, and the meeting of each qualification.
        s_parts = []
        for when, ok, kinds in (
            (self.first_touch, touched, (0.55, 0.35, 0.10)),
            (self.first_touch + rng.integers(1, 4, n) * DAY, touched & (rng.random(n) < 0.6),
             (0.5, 0.5, 0.0)),
            (self.touch2, touched2, (0.6, 0.4, 0.0)),
            (q_time, meets, (0.0, 0.0, 1.0)),
            (q2_time, meets2, (0.0, 0.0, 1.0)),
        ):
            ok = ok & (when < self.end_ts)
            s_parts.append((lead_ids[ok], when[ok],
                            rng.choice(3, ok.sum(), p=np.array(kinds) / sum(kinds))))
        s_lead = np.concatenate([p[0] for p in s_parts])
        s_ts = np.concatenate([p[1] for p in s_parts])
        s_type = np.concatenate([p[2] for p in s_parts]) + len(PROSPECT_TYPES)

        lead_all = np.concatenate([a_lead, b_lead, s_lead])
        ts_all = np.concatenate([a_ts, b_ts, s_ts])
        type_all = np.concatenate([a_type, b_type, s_type])
        order = np.lexsort((type_all, ts_all, lead_all))
        self.act_lead, self.act_ts, self.act_type = lead_all[order], ts_all[order], type_all[order]

    # -- qualifications and opportunities
    def qualifications_and_opportunities(self) -> None:
        rng, n = self.rng, self.n
        lead_ids = np.arange(n)
        q_lead, q_time, q_out, q_reason = [], [], [], []
        reasons = (self.q1_reason, rng.integers(0, len(REJECT_REASONS), n))
        for (meets, when, outcome), reason in zip((self.q1, self.q2), reasons, strict=True):
            q_lead.append(lead_ids[meets])
            q_time.append(when[meets])
            q_out.append(outcome[meets])
            q_reason.append(reason[meets])
        q_lead, q_time, q_out, q_reason = (np.concatenate(x) for x in
                                           (q_lead, q_time, q_out, q_reason))
        order = np.lexsort((q_time, q_lead))
        q_lead, q_time, q_out, q_reason = (q_lead[order], q_time[order], q_out[order],
                                           q_reason[order])
        m = len(q_lead)
        acc = q_out == 0
        bant = rng.random((m, 4)) < np.where(acc, 0.9, 0.35)[:, None]
        # Reps sometimes accept with thin evidence: exactly two criteria met.
        thin = acc & (rng.random(m) < 0.07)
        bant[thin] = np.array([True, True, False, False])
        bant[acc & ~thin & (bant.sum(1) < 3)] = True
        next_step = np.where(acc & (rng.random(m) < 0.93),
                             q_time + rng.integers(2, 12, m) * DAY, -1)
        reason = np.where(q_out == 1, REJECT_REASONS[q_reason],
                          np.where(q_out == 2, RECYCLE_REASONS[rng.integers(0, 3, m)], None))
        self.qual = dict(lead=q_lead, time=q_time, outcome=q_out, bant=bant,
                         next_step=next_step, reason=reason, rep=self.owner[q_lead])

        # Opportunities from accepted conversations, more likely for good fit.
        fit_z = self._quality()[q_lead]
        p_opp = np.clip(0.45 + 0.15 * fit_z + 0.1 * self.interest[q_lead], 0.05, 0.9)
        first_acc = acc & ~np.r_[False, (q_lead[1:] == q_lead[:-1]) & acc[:-1]]
        opp = first_acc & (rng.random(m) < p_opp)
        o_lead = q_lead[opp]
        o_created = q_time[opp] + rng.integers(0, 15, opp.sum()) * DAY + rng.integers(0, DAY, opp.sum())
        # A few deals are opened by sales with no qualification on record (skipped SQL).
        untouched = lead_ids[(self.fit > 1.5) & (self.first_touch < self.end_ts)]
        k = max(1, len(untouched) // 60) if len(untouched) else 0
        skip = rng.choice(untouched, size=k, replace=False) if k else np.array([], dtype=int)
        skip = skip[~np.isin(skip, o_lead)]
        skip_created = self.first_touch[skip] + rng.integers(1, 10, len(skip)) * DAY
        o_lead = np.concatenate([o_lead, skip])
        o_created = np.concatenate([o_created, skip_created])
        keep = o_created < self.end_ts
        o_lead, o_created = o_lead[keep], o_created[keep]
        order = np.argsort(o_created, kind="stable")
        o_lead, o_created = o_lead[order], o_created[order]
        k = len(o_lead)
        emp = self.comp_employees[self.company[o_lead]]
        base = np.where(emp < 50, 9_000, np.where(emp < 1000, 32_000, 110_000))
        amount = np.round(base * rng.lognormal(0, 0.45, k), -2)
        eur = np.isin(self.comp_country[self.company[o_lead]], list(EUR_COUNTRIES))
        fit_o = self._quality()[o_lead]
        p_win = np.clip(0.32 + 0.12 * fit_o + 0.06 * self.interest[o_lead], 0.05, 0.85)
        # Enterprise deals take longer to close than SMB ones.
        days_lo = np.where(emp < 50, 10, np.where(emp < 1000, 20, 45))
        days_hi = np.where(emp < 50, 90, np.where(emp < 1000, 150, 300))
        closed_at = o_created + rng.integers(days_lo, days_hi) * DAY + rng.integers(0, DAY, k)
        is_closed = closed_at < self.end_ts
        is_won = is_closed & (rng.random(k) < p_win)
        open_stage = np.array(["discovery", "proposal", "negotiation"])[rng.integers(0, 3, k)]
        self.opp = dict(lead=o_lead, created=o_created, amount=amount,
                        currency=np.where(eur, "EUR", "USD"), closed_at=closed_at,
                        is_closed=is_closed, is_won=is_won,
                        stage=np.where(is_won, "closed won",
                                       np.where(is_closed, "closed lost", open_stage)),
                        lost_reason=np.where(is_closed & ~is_won,
                                             LOST_REASONS[rng.integers(0, 4, k)], None))


# ---------------------------------------------------------------- tables


def _leads_table(s: _Sim) -> tuple[pa.Table, np.ndarray, pa.Table]:
    """Current lead rows, their file month, and earlier versions re-exported later."""
    rng, n = s.rng, s.n
    np.array([c[0] for c in CHANNELS])[s.channel]
    lead_source = np.array([c[1] for c in CHANNELS])[s.channel].astype(object)
    utm_table = np.array([(c[2], c[3], c[4]) for ch in CHANNELS for c in ch[3]], dtype=object)
    offsets = np.cumsum([0] + [len(ch[3]) for ch in CHANNELS])[:-1]
    utm = utm_table[offsets[s.channel] + s.campaign].reshape(-1, 3)
    utm = np.where(s.outbound[:, None], None, utm)
    lead_source = np.where(s.outbound, "Outbound", lead_source)
    # Mixed case from hand-typed UTMs.
    shout = rng.random(n) < 0.03
    utm[:, 0] = np.where(shout & (utm[:, 0] != None), np.char.capitalize(utm[:, 0].astype(str)),  # noqa: E711
                         utm[:, 0])
    has_qual = np.zeros(n, bool)
    has_qual[s.qual["lead"][s.qual["outcome"] == 0]] = True
    has_opp = np.zeros(n, bool)
    has_opp[s.opp["lead"]] = True
    won = np.zeros(n, bool)
    won[s.opp["lead"][s.opp["is_won"]]] = True
    stage = np.where(won, "customer", np.where(has_opp, "opportunity",
                     np.where(has_qual, "salesqualifiedlead",
                              np.where((s.handover < s.end_ts) & ~s.outbound,
                                       "marketingqualifiedlead", "lead"))))
    # The CRM sometimes calls busy-but-unqualified leads MQLs (the "artificial indicator").
    noisy = (stage == "lead") & (s.interest > 1.0) & (rng.random(n) < 0.35)
    stage = np.where(noisy, "marketingqualifiedlead", stage)
    stage = np.where(rng.random(n) < 0.02, None, stage).astype(object)

    last_change = np.maximum.reduce([
        s.created, np.where(s.handover < s.end_ts, s.handover, 0),
        np.where(s.first_touch < s.end_ts, s.first_touch, 0)])
    updated = np.minimum(last_change + rng.integers(0, 2 * DAY, n), s.end_ts - 1)

    industry = s.comp_industry[s.company].astype(object)
    industry = np.where(rng.random(n) < 0.04, "Select", industry)
    employees = s.comp_employees[s.company].astype(str).astype(object)
    employees = np.where(rng.random(n) < 0.05, None, employees)
    employees = np.where(rng.random(n) < 0.01, "unknown", employees)
    title = np.where(rng.random(n) < 0.02, "N/A", s.title.astype(object))
    title = np.where(s.test, "Test Record", title)
    mode = np.where(s.outbound, "outbound", "inbound").astype(object)
    mode = np.where(rng.random(n) < 0.03, np.char.capitalize(mode.astype(str)), mode)

    created_s = _timestamp_strings(s.created, rng)
    table = pa.table({
        "lead_id": _ids("L", s.base["lead"] + np.arange(1, n + 1), 8),
        "created_at": created_s,
        "updated_at": _ts(updated),
        "email": _str(s.email),
        "job_title": _str(title),
        "seniority": _str(s.seniority),
        "department": _str(s.department),
        "company_name": _str(s.comp_name[s.company]),
        "company_domain": _str(s.domain),
        "industry": _str(industry),
        "employee_count": _str(employees),
        "country_code": _str(s.comp_country[s.company]),
        "acquisition_mode": _str(mode),
        "lead_source": _str(lead_source),
        "utm_source": _str(utm[:, 0]),
        "utm_medium": _str(utm[:, 1]),
        "utm_campaign": _str(utm[:, 2]),
        "owner_id": _ids("rep_", s.owner + 1, 3),
        "crm_lifecycle_stage": _str(stage),
        "merged_into_lead_id": _str(np.full(n, None, dtype=object)),
    })
    if s.cfg.signal == "lead_origin":  # a column of the export's own, as CRMs add them
        origin = np.array([o[0] for o in LEAD_ORIGINS], dtype=object)[s.origin]
        table = table.append_column("lead_origin", _str(np.where(s.outbound, None, origin)))
    # An earlier export of some leads (stage still 'lead'), loaded before the current one.
    month = _month_index(updated)
    early = (month > _month_index(s.created)) & (rng.random(n) < 0.5)
    older = table.filter(pa.array(early))
    older = older.set_column(older.schema.get_field_index("updated_at"), "updated_at",
                             _ts(s.created[early] + HOUR))
    older = older.set_column(older.schema.get_field_index("crm_lifecycle_stage"),
                             "crm_lifecycle_stage", _str(np.full(early.sum(), "lead", dtype=object)))
    return table, month, older.append_column("_month", pa.array(_month_index(s.created[early])))


def _timestamp_strings(ts: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Mostly naive UTC, some ISO with Z, some with a +02:00 offset (same instant)."""
    naive = pc.strftime(_ts(ts), format="%Y-%m-%d %H:%M:%S")
    iso_z = pc.strftime(_ts(ts), format="%Y-%m-%dT%H:%M:%SZ")
    plus2 = pc.binary_join_element_wise(
        pc.strftime(_ts(ts + 2 * HOUR), format="%Y-%m-%dT%H:%M:%S"), "+02:00", "")
    u = rng.random(len(ts))
    out = pc.if_else(pa.array(u < 0.03), iso_z, naive)
    return pc.if_else(pa.array((u >= 0.03) & (u < 0.05)), plus2, out)


def _month_index(ts: np.ndarray) -> np.ndarray:
    d = ts.astype("datetime64[s]").astype("datetime64[M]")
    return d.astype(int)


def _categorical(codes: np.ndarray, values: list[str]) -> pa.Array:
    """Strings from small integer codes, built in Arrow (no per-row Python objects)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                          pa.array(values, pa.large_string())).cast(pa.large_string())


def _activities_table(s: _Sim) -> tuple[pa.Table, np.ndarray]:
    rng = s.rng
    k = len(s.act_lead)
    all_types = [*PROSPECT_TYPES.tolist(), "call", "sales_email", "meeting"]
    is_sales = s.act_type >= len(PROSPECT_TYPES)
    # 1 % typed in upper case by some integration: normalised downstream.
    shout = rng.random(k) < 0.01
    type_codes = s.act_type + np.where(shout, len(all_types), 0)
    detail_pool = ["/", "/product", "/pricing", "/blog/lead-scoring", "/case-studies",
                   "whitepaper: funnel benchmarks", "webinar: MQL to SQL"]
    table = pa.table({
        "activity_id": _ids("A", s.base["activity"] + np.arange(1, k + 1), 10),
        "lead_id": _ids("L", s.base["lead"] + s.act_lead + 1, 8),
        "occurred_at": _ts(s.act_ts),
        "activity_type": _categorical(type_codes, all_types + [t.upper() for t in all_types]),
        "actor": _categorical(is_sales.astype(np.int8), ["prospect", "sales"]),
        "detail": _categorical(rng.integers(0, len(detail_pool), k), detail_pool),
    })
    return table, _month_index(s.act_ts)


def _qualifications_table(s: _Sim) -> tuple[pa.Table, np.ndarray]:
    q = s.qual
    m = len(q["lead"])
    outcome = np.array(["accepted", "rejected", "recycled"])[q["outcome"]].astype(object)
    outcome = np.where(s.rng.random(m) < 0.02, np.char.upper(outcome.astype(str)), outcome)
    bools = {name: pa.array(q["bant"][:, i]) for i, name in
             enumerate(["has_need", "has_budget", "has_authority", "has_timing"])}
    table = pa.table({
        "qualification_id": _ids("Q", s.base["qualification"] + np.arange(1, m + 1), 8),
        "lead_id": _ids("L", s.base["lead"] + q["lead"] + 1, 8),
        "qualified_at": _ts(q["time"]),
        "outcome": _str(outcome),
        **bools,
        "next_step_at": _ts(q["next_step"]),
        "reason": _str(q["reason"]),
        "rep_id": _ids("rep_", q["rep"] + 1, 3),
    })
    return table, _month_index(q["time"])


def _opportunities_table(s: _Sim) -> tuple[pa.Table, np.ndarray, pa.Table]:
    o = s.opp
    k = len(o["lead"])
    closed_at = np.where(o["is_closed"], o["closed_at"], -1)
    updated = np.where(o["is_closed"], o["closed_at"], o["created"] + DAY)
    table = pa.table({
        "opportunity_id": _ids("O", s.base["opportunity"] + np.arange(1, k + 1), 8),
        "lead_id": _ids("L", s.base["lead"] + o["lead"] + 1, 8),
        "created_at": _ts(o["created"]),
        "stage": _str(o["stage"]),
        "amount": pa.array(o["amount"]),
        "currency": _str(o["currency"]),
        "is_closed": pa.array(o["is_closed"]),
        "is_won": pa.array(o["is_won"]),
        "closed_at": _ts(closed_at),
        "lost_reason": _str(o["lost_reason"]),
        "updated_at": _ts(updated),
    })
    # Deals are exported when opened (still open) and again when closed: the later version wins.
    closed = o["is_closed"]
    first = table.filter(pa.array(closed))
    c = int(closed.sum())
    first = first.set_column(first.schema.get_field_index("stage"), "stage",
                             _str(np.full(c, "discovery", dtype=object)))
    for name, val in (("is_closed", False), ("is_won", False)):
        first = first.set_column(first.schema.get_field_index(name), name, pa.array(np.full(c, val)))
    first = first.set_column(first.schema.get_field_index("closed_at"), "closed_at",
                             _ts(np.full(c, -1)))
    first = first.set_column(first.schema.get_field_index("lost_reason"), "lost_reason",
                             _str(np.full(c, None, dtype=object)))
    first = first.set_column(first.schema.get_field_index("updated_at"), "updated_at",
                             _ts(o["created"][closed] + DAY))
    first = first.append_column("_month", pa.array(_month_index(o["created"][closed])))
    return table, _month_index(updated), first


def _campaign_lead_days(s: _Sim) -> dict[tuple[int, int], np.ndarray]:
    """New inbound leads per day of each paid campaign (what its spend is sized on)."""
    lead_day = (s.created - s.start_ts) // DAY
    counts = {}
    for ci, (_group, _src, _p, camps) in enumerate(CHANNELS):
        for k, camp in enumerate(camps):
            if camp[0] is not None:
                sel = (s.channel == ci) & (s.campaign == k) & ~s.outbound
                counts[(ci, k)] = np.bincount(lead_day[sel], minlength=HISTORY_DAYS)
    return counts


def _spend_tables(s: _Sim, lead_days: dict[tuple[int, int], np.ndarray]
                  ) -> tuple[pa.Table, np.ndarray]:
    """Daily spend per paid campaign, sized so that cost per lead matches the campaign's CPL.
    `lead_days`: the campaigns' leads per day, over every shard."""
    rng = s.rng
    days = np.arange(HISTORY_DAYS)
    day_ts = s.start_ts + days * DAY
    rows = {k: [] for k in ("date", "platform", "campaign_id", "spend", "currency", "name",
                            "utm_source", "utm_medium", "utm_campaign", "impressions", "clicks")}
    for ci, (_group, _src, _p, camps) in enumerate(CHANNELS):
        for k, (platform, cid, usrc, umed, ucamp, cur, cpl) in enumerate(camps):
            if platform is None:
                continue
            per_day = lead_days[(ci, k)]
            smooth = np.convolve(per_day, np.ones(7) / 7, mode="same")
            spend = np.round(np.maximum(smooth * cpl * rng.lognormal(0, 0.25, HISTORY_DAYS), 0), 2)
            active = spend > 0
            cpm = rng.uniform(8, 35)
            impressions = np.round(spend / cpm * 1000).astype(int)
            clicks = np.round(impressions * rng.uniform(0.005, 0.03)).astype(int)
            rows["date"].append(day_ts[active])
            for key, val in (("platform", platform), ("campaign_id", cid), ("currency", cur),
                             ("name", cid.replace("-", " ").title()), ("utm_source", usrc),
                             ("utm_medium", umed), ("utm_campaign", ucamp)):
                rows[key].append(np.full(active.sum(), val, dtype=object))
            rows["spend"].append(spend[active])
            rows["impressions"].append(impressions[active])
            rows["clicks"].append(clicks[active])
    cat = {k: np.concatenate(v) if v else np.array([]) for k, v in rows.items()}
    order = np.lexsort((cat["campaign_id"].astype(str), cat["date"]))
    cat = {k: v[order] for k, v in cat.items()}
    table = pa.table({
        "spend_date": pa.array(cat["date"].astype("datetime64[s]").astype("datetime64[D]")),
        "platform": _str(cat["platform"]),
        "campaign_id": _str(cat["campaign_id"]),
        "spend": pa.array(cat["spend"].astype(float)),
        "currency": _str(cat["currency"]),
        "campaign_name": _str(cat["name"]),
        "utm_source": _str(cat["utm_source"]),
        "utm_medium": _str(cat["utm_medium"]),
        "utm_campaign": _str(cat["utm_campaign"]),
        "impressions": pa.array(cat["impressions"].astype(np.int64)),
        "clicks": pa.array(cat["clicks"].astype(np.int64)),
    })
    return table, _month_index(cat["date"].astype(np.int64))


def _fx_table(s: _Sim) -> pa.Table:
    """Daily rates from the first day of the first month (SDR costs cover whole months) to
    the last day of the history: a rate feed has no future."""
    rng = s.rng
    first = np.datetime64(np.datetime64(s.start_ts, "s"), "M").astype("datetime64[D]")
    last = np.datetime64(s.end_ts - 1, "s").astype("datetime64[D]")
    days = np.arange(first, last + 1)
    n = len(days)
    parts = []
    for cur, start in FX_START.items():
        walk = start * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
        parts.append(pa.table({"rate_date": pa.array(days), "currency": _str(np.full(n, cur)),
                               "rate_to_reporting": pa.array(np.round(walk, 6))}))
    return pa.concat_tables(parts)


def _sdr_table(s: _Sim) -> pa.Table:
    months = np.unique(_month_index(s.start_ts + np.arange(HISTORY_DAYS) * DAY))
    labels = months.astype("datetime64[M]").astype(str)
    parts = []
    for team, cur, heads in SDR_TEAMS:
        cost = np.round(heads * SDR_MONTHLY_COST[cur] * s.rng.lognormal(0, 0.05, len(months)), 2)
        parts.append(pa.table({"month": _str(labels), "team": _str(np.full(len(months), team)),
                               "cost": pa.array(cost), "currency": _str(np.full(len(months), cur))}))
    return pa.concat_tables(parts)


def _stage_history_table(s: _Sim) -> tuple[pa.Table, np.ndarray]:
    """Stage dates as a marketing-automation tool records them (for stage_source: crm)."""
    n = s.n
    lead = np.arange(n)
    acc = s.qual["outcome"] == 0
    first_sql = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_sql, s.qual["lead"][acc], s.qual["time"][acc])
    first_opp = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_opp, s.opp["lead"], s.opp["created"])
    won = s.opp["is_won"]
    first_won = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_won, s.opp["lead"][won], s.opp["closed_at"][won])
    parts = [(lead, s.created, "lead")]
    for when, stage in ((s.handover, "mql"), (first_sql, "sql"), (first_opp, "opportunity"),
                        (first_won, "customer")):
        ok = (when < s.end_ts) & ~((stage == "mql") & s.outbound)
        parts.append((lead[ok], when[ok], stage))
    lead_all = np.concatenate([p[0] for p in parts])
    ts_all = np.concatenate([p[1] for p in parts])
    stage_all = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])
    order = np.lexsort((ts_all, lead_all))
    table = pa.table({"lead_id": _ids("L", s.base["lead"] + lead_all[order] + 1, 8),
                      "stage": _str(stage_all[order]), "entered_at": _ts(ts_all[order])})
    return table, _month_index(ts_all[order])


# ---------------------------------------------------------------- dirty rows


def _dirty_rows(table: pa.Table, rng: np.random.Generator, rate: float, month: np.ndarray,
                bad_date_cols: list[str], required_cols: list[str],
                negative_cols: list[str] = ()) -> tuple[pa.Table, np.ndarray]:
    """Extra copies of real rows, as strings: exact duplicates, blank required fields,
    unparseable dates and negative amounts. Each must end in quarantine, not in the data."""
    n = table.num_rows
    k = int(round(n * rate))
    if k == 0 or n == 0:
        return table.slice(0, 0).cast(pa.schema([(f.name, pa.string()) for f in table.schema])), np.array([], int)
    pick = np.sort(rng.choice(n, size=k, replace=False))
    rows = table.take(pa.array(pick)).cast(pa.schema([(f.name, pa.string()) for f in table.schema]))
    kind = rng.integers(0, 4 if negative_cols else 3, k)
    cols = {name: rows.column(name).to_numpy(zero_copy_only=False).astype(object)
            for name in rows.column_names}
    bad_dates = np.array(["31/02/2025", "2025-13-01", "yesterday", "0000-00-00"], dtype=object)
    if bad_date_cols:
        c = bad_date_cols[0]
        cols[c] = np.where(kind == 1, bad_dates[rng.integers(0, 4, k)], cols[c])
    if required_cols:
        c = required_cols[0]
        cols[c] = np.where(kind == 2, "", cols[c])
    if negative_cols:
        c = negative_cols[0]
        cols[c] = np.where(kind == 3, "-" + cols[c].astype(str), cols[c])
    out = pa.table({name: pa.array(v, type=pa.string()) for name, v in cols.items()})
    return out, month[pick]


# ---------------------------------------------------------------- writing

EXTRACT_NAMES = ("crm_leads", "crm_activities", "crm_qualifications", "crm_opportunities",
                 "ad_spend", "crm_stage_history", "sdr_costs", "fx_rates")


def _write(out: Path, extract: str, parts: list[tuple[pa.Table, np.ndarray]], fmt: str,
           per_month: bool = True, suffix: str = "") -> tuple[int, int, int]:
    """Write one file per month (or one file), clean rows first then dirty ones."""
    folder = out / extract
    folder.mkdir(parents=True, exist_ok=True)
    months = np.unique(np.concatenate([m for _, m in parts])) if per_month else np.array([0])
    files = rows = size = 0
    for mo in months:
        label = str(np.datetime64(int(mo), "M")) if per_month else "all"
        pieces = []
        for table, month in parts:
            cols = [c for c in table.column_names if not c.startswith("_")]
            t = table.select(cols)
            if per_month:
                t = t.filter(pa.array(month == mo))
            if t.num_rows:
                pieces.append(t)
        if not pieces:
            continue
        path = folder / f"{extract}_{label}{suffix}.{fmt}"
        if fmt == "parquet":
            strings = pa.schema([(f.name, pa.string()) for f in pieces[0].schema])
            merged = pa.concat_tables([p.cast(strings) if p.schema != strings else p
                                       for p in pieces]) if len(pieces) > 1 else pieces[0]
            pq.write_table(merged, path, compression="zstd")
        else:
            with path.open("wb") as fh:
                for i, p in enumerate(pieces):
                    pacsv.write_csv(p, fh, pacsv.WriteOptions(include_header=i == 0,
                                                              quoting_style="needed"))
        files += 1
        rows += sum(p.num_rows for p in pieces)
        size += path.stat().st_size
    return files, rows, size


def generation_steps(cfg: DemoConfig) -> int:
    """How many messages `generate` passes to `progress`: a caller can draw a progress bar."""
    return 3 + 9 * _shard_count(cfg)


def _shard_count(cfg: DemoConfig) -> int:
    return -(-cfg.leads // max(1, cfg.shard_leads))


def generate(cfg: DemoConfig, out_dir: Path, progress: Callable[[str], None] | None = None,
             clean: bool = True) -> DemoResult:
    """Write every extract of the demo company to ``out_dir/<extract>/``.

    Up to `cfg.shard_leads` leads are simulated at once. More are simulated shard by shard
    (seeded from the seed and the shard's number), sharing the companies, with ids that
    follow the previous shard's, and written to files of their own (`..._s01`): memory
    stays that of one shard. The spend is sized on every shard's leads, at the end."""
    say = progress or (lambda _m: None)
    if cfg.file_format not in ("csv", "parquet"):
        raise ValueError(f"file format must be csv or parquet, not {cfg.file_format!r}")
    if cfg.leads < 1:
        raise ValueError("--leads must be at least 1")
    out_dir = Path(out_dir)
    if clean and out_dir.exists():
        for extract in EXTRACT_NAMES:
            shutil.rmtree(out_dir / extract, ignore_errors=True)
    shards = _shard_count(cfg)
    base = _Sim(cfg)
    say("simulating companies")
    base.companies()
    rows: dict[str, int] = dict.fromkeys(EXTRACT_NAMES, 0)
    files = size = 0

    def write(extract: str, parts: list, **kwargs) -> None:
        nonlocal files, size
        f, r, b = _write(out_dir, extract, parts, cfg.file_format, **kwargs)
        files, size, rows[extract] = files + f, size + b, rows[extract] + r

    lead_days: dict[tuple[int, int], np.ndarray] = {}
    bases = {"lead": 0, "activity": 0, "qualification": 0, "opportunity": 0}
    spend = None
    for shard in range(shards):
        n = cfg.leads // shards + (shard < cfg.leads % shards)
        label = f" (shard {shard + 1} of {shards})" if shards > 1 else ""
        if shards == 1:
            s = base
        else:
            s = _Sim(replace(cfg, leads=n), np.random.default_rng([cfg.seed, shard + 1]), bases)
            s.adopt_companies(base)
        say(f"simulating leads{label}")
        s.leads()
        say(f"simulating activities, sales touches and recycles{label}")
        s.activities_and_sales()
        say(f"simulating qualifications, opportunities and wins{label}")
        s.qualifications_and_opportunities()

        rng, rate = s.rng, cfg.dirty_rate
        say(f"building tables{label}")
        leads, lead_month, older_leads = _leads_table(s)
        acts, act_month = _activities_table(s)
        quals, qual_month = _qualifications_table(s)
        opps, opp_month, open_opps = _opportunities_table(s)
        for key, counts in _campaign_lead_days(s).items():
            lead_days[key] = lead_days.get(key, 0) + counts
        if shards == 1:  # one shard draws the spend where it always did: same bytes as before
            spend = _spend_tables(s, lead_days)
        history, hist_month = _stage_history_table(s)
        plan = {
            "crm_leads": [(older_leads, older_leads.column("_month").to_numpy()),
                          (leads, lead_month),
                          _dirty_rows(leads, rng, rate, lead_month, ["created_at"], ["lead_id"])],
            "crm_activities": [(acts, act_month),
                               _dirty_rows(acts, rng, rate, act_month, ["occurred_at"],
                                           ["activity_type"])],
            "crm_qualifications": [(quals, qual_month),
                                   _dirty_rows(quals, rng, rate, qual_month, ["qualified_at"],
                                               ["outcome"])],
            "crm_opportunities": [(open_opps, open_opps.column("_month").to_numpy()),
                                  (opps, opp_month),
                                  _dirty_rows(opps, rng, rate, opp_month, ["created_at"],
                                              ["lead_id"], ["amount"])],
        }
        if spend is not None:
            plan["ad_spend"] = [spend, _dirty_rows(spend[0], rng, max(rate, 0.002), spend[1],
                                                   ["spend_date"], ["currency"], ["spend"])]
        plan["crm_stage_history"] = [(history, hist_month)]
        for extract, parts in plan.items():
            say(f"writing {extract}{label}")
            write(extract, parts, suffix=f"_s{shard + 1:02d}" if shards > 1 else "")
        bases = {"lead": bases["lead"] + n, "activity": bases["activity"] + len(s.act_lead),
                 "qualification": bases["qualification"] + len(s.qual["lead"]),
                 "opportunity": bases["opportunity"] + len(s.opp["lead"])}
        del s, plan, leads, older_leads, acts, quals, opps, open_opps, history

    if spend is None:
        say("writing ad_spend, sized on every shard's leads")
        spend = _spend_tables(base, lead_days)
        write("ad_spend", [spend, _dirty_rows(spend[0], base.rng, max(cfg.dirty_rate, 0.002),
                                              spend[1], ["spend_date"], ["currency"], ["spend"])])
    say("writing sdr_costs and fx_rates")
    for extract, table in (("sdr_costs", _sdr_table(base)), ("fx_rates", _fx_table(base))):
        write(extract, [(table, np.zeros(table.num_rows, int))], per_month=False)
    return DemoResult(out_dir=out_dir, rows=rows, files=files, bytes=size)
