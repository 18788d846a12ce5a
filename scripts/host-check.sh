#!/usr/bin/env bash
# Read-only check of a host's tuning for tickpipe's busy-spinning, pinned runners.
#
#   scripts/host-check.sh [CPULIST]
#
# CPULIST (e.g. 2-13, the cores pipelines/pinned.toml pins runners to) names the cores
# to judge; by default the isolated cores, else every online core but the first.
# Prints what it finds and what it recommends; changes nothing, needs no root, and
# says "not visible" for whatever this host (a VM, a container) does not expose.
# Exits 0: it is advice, not a gate.
set -uo pipefail

SYS=/sys/devices/system/cpu
recommendations=0

section() { printf '\n== %s\n' "$*"; }
found() { printf '  found: %s\n' "$*"; }
recommend() {
    printf '  → %s\n' "$*"
    recommendations=$((recommendations + 1))
}
# The file's contents, or nothing if it is missing or unreadable.
rd() { [ -r "$1" ] && cat "$1" 2>/dev/null; }

# "0-2,5" -> "0 1 2 5"
expand() {
    local part lo hi parts out=()
    IFS=, read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
        [ -z "$part" ] && continue
        if [[ $part == *-* ]]; then
            lo=${part%-*} hi=${part#*-}
            for ((c = lo; c <= hi; c++)); do out+=("$c"); done
        else
            out+=("$part")
        fi
    done
    echo "${out[*]:-}"
}
# Is word $1 in the space-separated list $2?
in_list() { [[ " $2 " == *" $1 "* ]]; }
# The value of kernel parameter $1 in /proc/cmdline (empty if absent; "1" if bare).
cmdline_param() {
    local w
    for w in $(rd /proc/cmdline); do
        [ "$w" = "--" ] && break # init's own arguments follow
        case $w in
            "$1") echo 1 ;;
            "$1"=*) echo "${w#*=}" ;;
        esac
    done
}

online=$(expand "$(rd $SYS/online || echo 0)")

section "CPU"
cpu_model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
found "${cpu_model:-unknown model}; online cores: ${online:-unknown}"
if grep -qw hypervisor /proc/cpuinfo 2>/dev/null; then
    found "running under a hypervisor: vCPUs can be descheduled by the host whatever this guest does"
    recommend "for production latency, use bare metal or dedicated (pinned, isolated) vCPUs"
fi

section "Isolated cores (kernel command line)"
isolcpus=$(cmdline_param isolcpus)
nohz_full=$(cmdline_param nohz_full)
rcu_nocbs=$(cmdline_param rcu_nocbs)
isolated=$(expand "$(rd $SYS/isolated)")
# isolcpus may carry flags first: isolcpus=managed_irq,domain,2-13
iso_list=$(expand "$(echo "$isolcpus" | tr ',' '\n' | grep -E '^[0-9]' | paste -sd, -)")
[ -z "$isolated" ] && isolated=$iso_list
found "isolcpus=${isolcpus:-<none>} nohz_full=${nohz_full:-<none>} rcu_nocbs=${rcu_nocbs:-<none>}"
found "isolated cores (kernel's view): ${isolated:-<none>}"

if [ $# -ge 1 ]; then
    runner=$(expand "$1")
    why="given on the command line"
elif [ -n "$isolated" ]; then
    runner=$isolated
    why="the isolated cores"
else
    runner=$(echo "$online" | cut -d' ' -f2-)
    [ "$runner" = "$online" ] && runner=""
    why="every online core but the first (no core is isolated)"
fi
found "judging runner cores: ${runner:-<none>} ($why)"
if [ -z "$runner" ]; then
    recommend "this host has one core: busy-spinning runners need cores of their own"
fi

nohz_set=$(expand "$nohz_full")
rcu_set=$(expand "$rcu_nocbs")
for c in $runner; do
    in_list "$c" "$online" || recommend "core $c is not online"
    missing=()
    in_list "$c" "$isolated" || missing+=(isolcpus)
    in_list "$c" "$nohz_set" || missing+=(nohz_full)
    in_list "$c" "$rcu_set" || missing+=(rcu_nocbs)
    if [ ${#missing[@]} -gt 0 ]; then
        recommend "core $c: add it to ${missing[*]} so the scheduler, the tick and RCU callbacks leave it to its runner"
    fi
done

section "SMT siblings"
smt_active=$(rd $SYS/smt/active)
smt_control=$(rd $SYS/smt/control)
found "smt active=${smt_active:-not visible} control=${smt_control:-not visible}"
for c in $runner; do
    sib=$(rd "$SYS/cpu$c/topology/thread_siblings_list")
    if [ -z "$sib" ]; then
        found "core $c: siblings not visible"
        continue
    fi
    others=""
    for s in $(expand "$sib"); do [ "$s" != "$c" ] && others="$others $s"; done
    if [ -n "$others" ]; then
        found "core $c shares its physical core with:$others"
        recommend "core $c: keep its sibling(s)$others idle (isolate them too, pin nothing there) or disable SMT (nosmt)"
    else
        found "core $c: no SMT sibling"
    fi
done

section "Frequency scaling"
any_governor=0
for c in $runner; do
    gov=$(rd "$SYS/cpu$c/cpufreq/scaling_governor")
    drv=$(rd "$SYS/cpu$c/cpufreq/scaling_driver")
    if [ -z "$gov" ]; then
        continue
    fi
    any_governor=1
    found "core $c: governor $gov (driver ${drv:-?})"
    [ "$gov" != performance ] && recommend "core $c: set the scaling governor to performance (cpupower frequency-set -g performance)"
done
[ $any_governor -eq 0 ] && found "no cpufreq governor visible (a VM, or scaling handled below the OS)"
boost=$(rd $SYS/cpufreq/boost)
[ -n "$boost" ] && found "boost=$boost (turbo varies clocks with load and temperature; fix it for stable figures)"

section "Idle states (C-states)"
found "cpuidle driver=$(rd $SYS/cpuidle/current_driver || echo 'not visible') governor=$(rd $SYS/cpuidle/current_governor || echo 'not visible')"
for c in $runner; do
    deep=()
    for st in "$SYS/cpu$c"/cpuidle/state*; do
        [ -d "$st" ] || continue
        name=$(rd "$st/name")
        lat=$(rd "$st/latency")
        dis=$(rd "$st/disable")
        if [ "${dis:-0}" = 0 ] && [ "${lat:-0}" -gt 1 ] 2>/dev/null; then
            deep+=("$name(${lat}us)")
        fi
    done
    if [ ${#deep[@]} -gt 0 ]; then
        found "core $c: enabled idle states with exit latency > 1 us: ${deep[*]}"
        recommend "core $c: a busy-spinning runner never idles, but a parked one wakes through these; disable them (cpupower idle-set -D 2) or boot with processor.max_cstate=1"
    elif [ -d "$SYS/cpu$c/cpuidle" ]; then
        found "core $c: no enabled idle state deeper than 1 us"
    fi
done
max_cstate=$(cmdline_param processor.max_cstate)
[ -n "$max_cstate" ] && found "processor.max_cstate=$max_cstate"
idle=$(cmdline_param idle)
[ -n "$idle" ] && found "idle=$idle"

section "IRQ affinity"
default_aff=$(rd /proc/irq/default_smp_affinity)
found "default IRQ affinity mask: ${default_aff:-not visible}"
irqs=0
hits=0
hit_names=()
for f in /proc/irq/*/smp_affinity_list; do
    [ -r "$f" ] || continue
    irqs=$((irqs + 1))
    n=$(basename "$(dirname "$f")")
    aff=$(expand "$(rd "$f")")
    for c in $runner; do
        if in_list "$c" "$aff"; then
            hits=$((hits + 1))
            name=$(awk -v n="$n:" '$1 == n { print $NF }' /proc/interrupts 2>/dev/null)
            hit_names+=("$n${name:+($name)}")
            break
        fi
    done
done
if [ $irqs -eq 0 ]; then
    found "IRQ affinities not visible"
else
    found "$irqs IRQs; $hits may be delivered to a runner core"
    if [ $hits -gt 0 ]; then
        found "  ${hit_names[*]:0:12}$([ $hits -gt 12 ] && echo ' …')"
        recommend "steer IRQs off the runner cores (irqaffinity= on the command line, or write the housekeeping cores to /proc/irq/*/smp_affinity_list); NIC queues of a live feed belong on a housekeeping core near the NIC"
    fi
fi
if pgrep -x irqbalance >/dev/null 2>&1; then
    found "irqbalance is running"
    recommend "stop irqbalance or give it IRQBALANCE_BANNED_CPULIST=<runner cores>, else it moves IRQs back"
fi

section "Memory"
thp=$(rd /sys/kernel/mm/transparent_hugepage/enabled)
thp_defrag=$(rd /sys/kernel/mm/transparent_hugepage/defrag)
found "transparent huge pages: enabled=${thp:-not visible} defrag=${thp_defrag:-not visible}"
case $thp in
    *"[always]"*) recommend "THP 'always' lets khugepaged compact and collapse pages under a running process (stalls of ms); use madvise or never" ;;
esac
case $thp_defrag in
    *"[always]"*) recommend "THP defrag 'always' stalls page faults on direct compaction; use defer or madvise" ;;
esac
numa_bal=$(rd /proc/sys/kernel/numa_balancing)
[ -n "$numa_bal" ] && found "numa_balancing=$numa_bal"
[ "${numa_bal:-0}" != 0 ] && recommend "disable automatic NUMA balancing (sysctl kernel.numa_balancing=0): it unmaps pages to sample accesses"
swappiness=$(rd /proc/sys/vm/swappiness)
[ -n "$swappiness" ] && found "vm.swappiness=$swappiness"

section "Clock"
cs=$(rd $SYS/../clocksource/clocksource0/current_clocksource)
cs_avail=$(rd $SYS/../clocksource/clocksource0/available_clocksource)
found "clocksource=${cs:-not visible} (available: ${cs_avail:-not visible})"
[ -n "$cs" ] && [ "$cs" != tsc ] && recommend "clocksource is $cs: tickpipe's clock reads the TSC directly, but the kernel's clock (and Instant) then costs a VM exit or an HPET read; prefer tsc"
tsc_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(constant_tsc|nonstop_tsc|tsc_reliable)$' | paste -sd' ' -)
found "TSC flags: ${tsc_flags:-none}"
case " $tsc_flags " in
    *" constant_tsc "*) ;;
    *) recommend "no constant_tsc: TSC-based latency figures are not comparable across frequency changes" ;;
esac

section "Other"
timer_migration=$(rd /proc/sys/kernel/timer_migration)
[ -n "$timer_migration" ] && found "timer_migration=$timer_migration"
nmi=$(rd /proc/sys/kernel/nmi_watchdog)
[ -n "$nmi" ] && found "nmi_watchdog=$nmi"
[ "${nmi:-0}" = 1 ] && recommend "disable the NMI watchdog (nmi_watchdog=0): a periodic NMI on every core"
rt_runtime=$(rd /proc/sys/kernel/sched_rt_runtime_us)
[ -n "$rt_runtime" ] && found "sched_rt_runtime_us=$rt_runtime (RT throttling; matters only for SCHED_FIFO runners)"

printf '\n%d recommendation(s).\n' "$recommendations"
exit 0
