#!/bin/bash
# Container health: nginx answers its own /nginx-health on 8080 (bash's /dev/tcp: no curl in the image).
set -eu
exec 3<>/dev/tcp/127.0.0.1/8080
printf 'GET /nginx-health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 3 status <&3
[[ "$status" == *" 200 "* ]]
