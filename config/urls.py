from django.contrib import admin
from django.urls import path

from dashboard import silence_views, views
from tickstock_ops import views as core_views

admin.site.site_header = admin.site.site_title = "TickStock Ops"
admin.site.index_title = "Administration"

urlpatterns = [
    path("favicon.ico", views.favicon),
    path("", views.overview, name="dashboard"),
    path("ipos/", views.ipos, name="dashboard-ipos"),
    path("quality/", views.quality, name="dashboard-quality"),
    path("quality/<str:symbol>/", views.symbol, name="dashboard-symbol"),
    path("rules/", views.rules, name="dashboard-rules"),
    path("panel/<str:page>/<str:name>/", views.panel, name="dashboard-panel"),
    path("alerts/<int:pk>/", views.alert_detail, name="dashboard-alert"),
    path("alerts/<int:pk>/<str:action>/", views.alert_action, name="dashboard-alert-action"),
    path("silences/", silence_views.silence_list, name="dashboard-silences"),
    path("silences/new/", silence_views.silence_new, name="dashboard-silence-new"),
    path("silences/preview/", silence_views.silence_preview, name="dashboard-silence-preview"),
    path("silences/<int:pk>/", silence_views.silence_edit, name="dashboard-silence"),
    path("silences/<int:pk>/expire/", silence_views.silence_expire, name="dashboard-silence-expire"),
    path("clock/", views.choose_clock, name="dashboard-clock"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]
