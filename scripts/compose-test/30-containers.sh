# shellcheck shell=bash
# compose-test.sh, phase 30-containers: containers. Sourced by scripts/compose-test.sh (its helpers and variables).

step "containers"
# The hardening of every running container of a stack ("$@": its compose command), read from the kernel
# (/proc/PID/status of its main process) and from Docker: no capability in the effective or bounding set (cap_drop:
# ALL, none added back), no_new_privs, a read-only root filesystem and a pids limit.
check_hardened() {
  local id service pid readonly pids caps
  for id in $("$@" ps -q); do
    read -r service pid readonly pids < <(docker inspect -f \
      '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Pid}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.PidsLimit}}' "$id")
    [ "$pid" != 0 ] || continue
    caps=$(awk '/^(CapEff|CapBnd|NoNewPrivs):/ {printf "%s%s ", $1, $2}' "/proc/$pid/status")
    [ "$caps" = "CapEff:0000000000000000 CapBnd:0000000000000000 NoNewPrivs:1 " ] \
      || fail "$service is not hardened: $caps"
    [ "$readonly" = true ] || fail "$service has a writable root filesystem"
    [ "$pids" != "<nil>" ] && [ "${pids:-0}" -gt 0 ] || fail "$service has no pids limit"
    pass "$service: no capabilities (effective and bounding), no_new_privs, read-only root, at most $pids pids"
  done
}
check_hardened "${local_stack[@]}"
for id in $("${local_stack[@]}" ps -q); do
  read -r service status health pid < <(docker inspect -f \
    '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Pid}}' "$id")
  ports=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{$p}} {{end}}{{end}}' "$id")
  if [ "$status" = exited ]; then
    [ "$service" = migrate ] || fail "$service exited"
    continue
  fi
  [ "$health" = healthy ] || fail "$service is $health"
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
  [ "$uid" != 0 ] || fail "$service runs as root"
  if [ "$service" = nginx ]; then
    [ -n "$ports" ] || fail "nginx publishes no port"
  else
    [ -z "$ports" ] || fail "$service publishes $ports"
  fi
  pass "$service: healthy, uid $uid${ports:+, publishes $ports}"
done
