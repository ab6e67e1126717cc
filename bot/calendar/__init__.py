"""Calendar time: on-call rotations and the business-hours clock (schedule.py), the on-call file that gives them
(schedule_file.py), a rotation read from an iCal feed (ical.py) and the fetching of that feed (feed.py), calendar
triggers such as REPORT_EVERY's (cron.py), and what `replywatch oncall` prints (oncall_view.py)."""
