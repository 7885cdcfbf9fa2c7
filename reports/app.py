"""Entry point of the reporting app: `streamlit run reports/app.py --server.address 127.0.0.1`.

Reads the published warehouse (``ACCOUNT_HEALTH_WAREHOUSE``) read-only through ``reports.data``.
Each page lives in ``reports/app_pages/`` and answers one question (docs/APP.md lists them).
"""

import sys
from pathlib import Path

# `streamlit run` puts reports/ on sys.path, not the repository root that holds the package.
REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import streamlit as st  # noqa: E402

from reports import components  # noqa: E402

# Not `pages/`: Streamlit treats a `pages/` folder beside the entry script as the legacy multipage
# app, and a deep link such as /account_detail on a fresh server would then run that page alone,
# without this navigation (found with the browser test).
PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="Account Health", page_icon=":material/monitor_heart:", layout="wide")

navigation = st.navigation(
    {
        "Accounts": [
            st.Page(PAGES_DIR / "portfolio.py", title="Portfolio", icon=":material/dashboard:", default=True),
            st.Page(
                PAGES_DIR / "priority_queue.py",
                title="Priority queue",
                icon=":material/format_list_numbered:",
            ),
            st.Page(PAGES_DIR / "account_detail.py", title="Account detail", icon=":material/person_search:"),
            st.Page(PAGES_DIR / "quadrant_review.py", title="Quadrant review", icon=":material/swap_horiz:"),
        ],
        "Business": [
            st.Page(PAGES_DIR / "revenue.py", title="Revenue", icon=":material/payments:"),
            st.Page(PAGES_DIR / "product.py", title="Product", icon=":material/widgets:"),
            st.Page(PAGES_DIR / "model_accuracy.py", title="Model accuracy", icon=":material/query_stats:"),
        ],
        "Operations": [
            st.Page(PAGES_DIR / "data_health.py", title="Data health", icon=":material/fact_check:"),
        ],
    }
)
components.sidebar_status()
navigation.run()
