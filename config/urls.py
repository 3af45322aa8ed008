from django.contrib import admin
from django.urls import path

from dashboard import views
from tickstock_ops import views as core_views

urlpatterns = [
    path("", views.overview, name="dashboard"),
    path("ipos/", views.ipos, name="dashboard-ipos"),
    path("quality/", views.quality, name="dashboard-quality"),
    path("quality/<str:symbol>/", views.symbol, name="dashboard-symbol"),
    path("rules/", views.rules, name="dashboard-rules"),
    path("panel/<str:page>/<str:name>/", views.panel, name="dashboard-panel"),
    path("alerts/<int:pk>/", views.alert_detail, name="dashboard-alert"),
    path("alerts/<int:pk>/<str:action>/", views.alert_action, name="dashboard-alert-action"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]
