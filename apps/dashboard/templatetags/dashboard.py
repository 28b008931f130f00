"""`{% admin_dashboard %}`: the staff dashboard on the admin's index page. Each panel shows only
to staff who may view what it counts (orders, stock, reviews, events), as the admin's own pages
would; a staff member without those permissions sees the plain index."""

from typing import Any

from django import template

from apps.dashboard.charts import sales_chart
from apps.dashboard.selectors import dashboard_get, operations_get

register = template.Library()


@register.inclusion_tag("dashboard/admin_dashboard.html", takes_context=True)
def admin_dashboard(context: template.Context) -> dict[str, Any]:
    user = context["request"].user
    show = {
        "sales": user.has_perm("orders.view_order"),
        "stock": user.has_perm("inventory.view_stockitem"),
        "reviews": user.has_perm("reviews.view_review"),
        "operations": user.has_perm("events.view_outboxevent"),
    }
    if not any(show.values()):
        return {"show": show}
    dashboard = dashboard_get()
    return {
        "show": show,
        "dashboard": dashboard,
        "chart": sales_chart(dashboard.days, currency=dashboard.currency) if show["sales"] else "",
        "operations": operations_get() if show["operations"] else None,
    }
