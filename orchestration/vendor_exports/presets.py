"""Mapping presets for the standard export headers of CRMs and ad platforms.

Each preset maps (preset, extract) to a mapping (see mapping.py) written against the column
names as the vendor writes them in its CSV export. A user's `--map` file extends or overrides
it (columns merged by target name). docs/imports.md lists the columns each one expects.
"""

from __future__ import annotations

# HubSpot writes dates as "2024-03-05 14:22" in the portal's time zone.
_HUBSPOT_TIME = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]
# Salesforce report exports (en_US locale): 3/5/2024 or 3/5/2024, 2:22 PM.
_SALESFORCE_TIME = ["%m/%d/%Y, %I:%M %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y"]

_COUNTRIES = {
    "united states": "US", "usa": "US", "united states of america": "US",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "germany": "DE",
    "france": "FR", "netherlands": "NL", "canada": "CA", "spain": "ES", "italy": "IT",
    "australia": "AU", "india": "IN", "brazil": "BR", "ireland": "IE", "belgium": "BE",
    "switzerland": "CH", "austria": "AT", "sweden": "SE", "denmark": "DK", "norway": "NO",
    "finland": "FI", "poland": "PL", "portugal": "PT", "japan": "JP", "singapore": "SG",
    "mexico": "MX", "new zealand": "NZ", "south africa": "ZA",
}
_COUNTRY = {"map": _COUNTRIES, "keep_unmapped": True, "case": "as_is"}
# Who the person is never lands (the e-mail is mapped: staging keeps its domain only). Every
# other column of a lead export is carried as it is: the CRM's own fields.
_PERSON = ["First Name", "Last Name", "Full Name", "Name", "Phone", "Phone Number", "Mobile",
           "Mobile Phone Number", "Street Address", "Address", "Date of Birth", "LinkedIn URL",
           "IP Address", "Salutation"]

PRESETS: dict[str, dict[str, dict]] = {
    "generic": {},
    "hubspot": {
        "crm_leads": {
            "drop": _PERSON,
            "columns": {
                "lead_id": "Record ID",
                "created_at": {"from": "Create Date", "format": _HUBSPOT_TIME},
                "updated_at": {"from": "Last Modified Date", "format": _HUBSPOT_TIME,
                               "optional": True},
                "email": {"from": "Email", "optional": True},
                "job_title": {"from": "Job Title", "optional": True},
                "company_name": {"from": ["Company Name", "Associated Company"],
                                 "optional": True},
                "industry": {"from": "Industry", "optional": True},
                "employee_count": {"from": "Number of Employees", "optional": True},
                "country_code": {"from": "Country/Region", "optional": True, **_COUNTRY},
                # HubSpot has no inbound/outbound field: sales-created contacts are offline.
                "acquisition_mode": {"from": "Original Source", "map": {
                    "offline sources": "outbound"}, "else": "inbound"},
                "lead_source": {"from": "Original Source", "optional": True},
                "utm_campaign": {"from": "Original Source Drill-Down 2", "optional": True},
                "owner_id": {"from": "Contact owner", "optional": True},
                "crm_lifecycle_stage": {"from": "Lifecycle Stage", "optional": True},
            },
        },
        # The "Became a ... Date" properties of the same contacts export: one row per stage.
        "crm_stage_history": {
            "columns": {
                "lead_id": "Record ID",
                "entered_at": {"format": _HUBSPOT_TIME},
            },
            "explode": {
                "into": ["stage", "entered_at"],
                "columns": {
                    "lead": "Became a Lead Date",
                    "marketingqualifiedlead": "Became a Marketing Qualified Lead Date",
                    "salesqualifiedlead": "Became a Sales Qualified Lead Date",
                    "opportunity": "Became an Opportunity Date",
                    "customer": "Became a Customer Date",
                },
            },
        },
        "crm_opportunities": {
            "columns": {
                "opportunity_id": "Record ID",
                "lead_id": {"from": ["Associated Contact IDs", "Associated Contact"],
                            "split": ";"},
                "created_at": {"from": "Create Date", "format": _HUBSPOT_TIME},
                "stage": {"from": "Deal Stage", "case": "lower"},
                "amount": {"from": "Amount", "optional": True},
                "currency": {"from": "Currency", "optional": True, "default": "USD"},
                "is_closed": {"from": "Deal Stage", "map": {"closed won": True,
                                                            "closed lost": True}, "else": False},
                "is_won": {"from": "Deal Stage", "map": {"closed won": True}, "else": False},
                "closed_at": {"from": "Close Date", "format": _HUBSPOT_TIME, "only_if": {
                    "column": "Deal Stage", "in": ["closed won", "closed lost"]}},
                "lost_reason": {"from": "Closed Lost Reason", "optional": True},
                "updated_at": {"from": "Last Modified Date", "format": _HUBSPOT_TIME,
                               "optional": True},
            },
        },
    },
    "salesforce": {
        "crm_leads": {
            "drop": _PERSON,
            "columns": {
                "lead_id": "Lead ID",
                "created_at": {"from": "Created Date", "format": _SALESFORCE_TIME},
                "updated_at": {"from": "Last Modified Date", "format": _SALESFORCE_TIME,
                               "optional": True},
                "email": {"from": "Email", "optional": True},
                "job_title": {"from": "Title", "optional": True},
                "company_name": {"from": "Company / Account", "optional": True},
                "industry": {"from": "Industry", "optional": True},
                "employee_count": {"from": "No. of Employees", "optional": True},
                "country_code": {"from": "Country", "optional": True, **_COUNTRY},
                "acquisition_mode": {"from": "Lead Source", "map": {
                    "outbound": "outbound", "cold call": "outbound", "prospecting": "outbound",
                    "purchased list": "outbound"}, "else": "inbound"},
                "lead_source": {"from": "Lead Source", "optional": True},
                "owner_id": {"from": "Lead Owner", "optional": True},
                "crm_lifecycle_stage": {"from": "Lead Status", "optional": True},
            },
        },
        "crm_opportunities": {
            "columns": {
                "opportunity_id": "Opportunity ID",
                "lead_id": {"from": ["Contact ID", "Account ID"], "optional": True},
                "created_at": {"from": "Created Date", "format": _SALESFORCE_TIME},
                "stage": {"from": "Stage", "case": "lower"},
                "amount": {"from": "Amount", "optional": True, "default": None},
                "currency": {"from": "Opportunity Currency", "optional": True,
                             "default": "USD"},
                "is_closed": {"from": "Closed", "optional": True},
                "is_won": {"from": "Won", "optional": True},
                "closed_at": {"from": "Close Date", "format": _SALESFORCE_TIME,
                              "only_if": {"column": "Closed", "in": ["1", "true", "yes"]}},
                "lost_reason": {"from": "Loss Reason", "optional": True},
                "updated_at": {"from": "Last Modified Date", "format": _SALESFORCE_TIME,
                               "optional": True},
            },
        },
        # Campaign Member report: campaign responses as prospect activities.
        "crm_activities": {
            "columns": {
                "activity_id": {"derive": ["Campaign ID", "Lead ID", "Status"]},
                "lead_id": "Lead ID",
                "occurred_at": {"from": ["First Responded Date", "Created Date"],
                                "format": _SALESFORCE_TIME},
                "activity_type": {"from": "Status", "map": {
                    "responded": "form_submit", "registered": "webinar_registration",
                    "attended": "webinar_attended", "opened": "email_open",
                    "clicked": "email_click", "downloaded": "content_download",
                    "requested demo": "demo_request"}, "keep_unmapped": True, "case": "lower"},
                "actor": {"from": "Status", "map": {"sent": "marketing"}, "else": "prospect"},
                "detail": {"from": "Campaign Name", "optional": True},
            },
        },
    },
    # Campaign reports, one row per day and campaign. A title and a date-range line come above
    # the header and totals rows below it; both are recognised.
    "google_ads": {
        "ad_spend": {
            "header_row": "auto",
            "skip_when": {"Day": "^Total"},
            "numbers": {"thousands": ",", "decimal": "."},
            "columns": {
                "spend_date": "Day",
                "platform": {"value": "google_ads"},
                "campaign_id": {"from": ["Campaign ID", "Campaign"]},
                "campaign_name": "Campaign",
                "spend": "Cost",
                "currency": {"from": "Currency code", "optional": True, "default": "USD"},
                "utm_source": {"value": "google"},
                "utm_medium": {"value": "cpc"},
                "utm_campaign": {"from": "Campaign", "case": "lower"},
                "impressions": {"from": ["Impr.", "Impressions"], "optional": True},
                "clicks": {"from": "Clicks", "optional": True},
            },
        },
    },
    "linkedin_ads": {
        "ad_spend": {
            "header_row": "auto",
            "numbers": {"thousands": ",", "decimal": "."},
            "columns": {
                "spend_date": {"from": "Start Date (in UTC)", "format": ["%m/%d/%Y",
                                                                         "%Y-%m-%d"]},
                "platform": {"value": "linkedin_ads"},
                "campaign_id": {"from": ["Campaign ID", "Campaign Name"]},
                "campaign_name": "Campaign Name",
                "spend": "Total Spent",
                "currency": {"from": "Currency", "optional": True, "default": "USD"},
                "utm_source": {"value": "linkedin"},
                "utm_medium": {"value": "paid_social"},
                "utm_campaign": {"from": "Campaign Name", "case": "lower"},
                "impressions": {"from": "Impressions", "optional": True},
                "clicks": {"from": "Clicks", "optional": True},
            },
        },
    },
    "meta_ads": {
        "ad_spend": {
            "numbers": {"thousands": ",", "decimal": "."},
            "columns": {
                "spend_date": {"from": ["Day", "Reporting starts"]},
                "platform": {"value": "meta_ads"},
                "campaign_id": {"from": ["Campaign ID", "Campaign name"]},
                "campaign_name": "Campaign name",
                # The currency is in the header; override both for another one.
                "spend": "Amount spent (USD)",
                "currency": {"value": "USD"},
                "utm_source": {"value": "facebook"},
                "utm_medium": {"value": "paid_social"},
                "utm_campaign": {"from": "Campaign name", "case": "lower"},
                "impressions": {"from": "Impressions", "optional": True},
                "clicks": {"from": ["Link clicks", "Clicks (all)"], "optional": True},
            },
        },
    },
}


def preset_mapping(preset: str, extract: str) -> dict:
    """The preset's mapping for `extract` (a copy), or a clear error."""
    import copy

    from orchestration.vendor_exports.mapping import MappingError

    if preset not in PRESETS:
        raise MappingError(f"unknown preset {preset!r}; one of {', '.join(PRESETS)}")
    if preset == "generic":
        return {"extract": extract}
    extracts = PRESETS[preset]
    if extract not in extracts:
        raise MappingError(f"preset {preset} has no mapping for {extract} (it has "
                           f"{', '.join(extracts)}); use --preset generic with a --map file")
    return {"extract": extract, **copy.deepcopy(extracts[extract])}
