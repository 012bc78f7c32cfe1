DROP TABLE dashboard_actions;
