package io.mvm.core.vms;

import io.mvm.core.scale.IdlePolicy;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Validation and hashing of {@code /vms} specs. Pure.
 *
 * <p><b>The spec hash</b> decides which warm VMs can serve a spec, so it covers exactly what a VM
 * is booted with and nothing that is delivered to it at claim time:
 * <ul>
 *   <li>counted: the image ({@code template}, {@code rootfs}, {@code kernel}), {@code resources}
 *       ({@code vcpu}, {@code mem_mb}), {@code lifecycle}, {@code cmd} (in order), {@code env}
 *       (names and values; key order does not matter) and {@code ports} (order does not matter);</li>
 *   <li>not counted: {@code job_id} and {@code tenant} (identity), {@code secrets} (delivered to the
 *       guest at claim, never hashed or stored in the clear outside the pool's write-only column) and
 *       {@code warm_pool} (how many to keep warm is pool policy, not what a VM is) and {@code idle}
 *       (when a claimed VM is paused or put to sleep: its node's policy, applied after the claim).</li>
 * </ul>
 * The encoding is length-prefixed field by field under a version tag, so no two different specs
 * encode alike and reordering JSON keys cannot change it.
 */
public final class VmSpecs {
    public static final int MAX_VCPU = 64;
    public static final long MIN_MEM_MB = 64;
    public static final long MAX_MEM_MB = 1 << 20;
    public static final int MAX_WARM = 100;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Pattern KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,127}");

    private VmSpecs() {}

    /** Validates a draft, naming fields as {@code <prefix>.<field>}; throws listing every problem. */
    public static VmSpec validate(VmSpecDraft d, String prefix) {
        List<String> problems = new ArrayList<>();
        if (d == null) {
            throw new VmSpecException(List.of(prefix + " is required"));
        }
        Optional<String> template = name(d.template(), prefix + ".template", problems);
        Optional<String> rootfs = name(d.rootfs(), prefix + ".rootfs", problems);
        Optional<String> kernel = name(d.kernel(), prefix + ".kernel", problems);
        if (template.isPresent() && (rootfs.isPresent() || kernel.isPresent())) {
            problems.add(prefix + ".template excludes " + prefix + ".rootfs and " + prefix + ".kernel (a template names"
                    + " its own image)");
        }
        List<String> cmd = d.cmd() == null ? List.of() : d.cmd();
        if (cmd.isEmpty()) {
            problems.add(prefix + ".cmd is required: a non-empty list of strings");
        } else if (cmd.stream().anyMatch(a -> a == null || a.indexOf('\0') >= 0)) {
            problems.add(prefix + ".cmd must not contain null or NUL characters");
        }
        Map<String, String> env = keys(d.env(), prefix + ".env", problems);
        Map<String, String> secrets = keys(d.secrets(), prefix + ".secrets", problems);
        int vcpu = 0;
        long mem = 0;
        if (d.resources() == null) {
            problems.add(prefix + ".resources is required: {vcpu, mem_mb}");
        } else {
            if (d.resources().vcpu() == null) {
                problems.add(prefix + ".resources.vcpu is required");
            } else if (d.resources().vcpu() < 1 || d.resources().vcpu() > MAX_VCPU) {
                problems.add(prefix + ".resources.vcpu must be 1-" + MAX_VCPU + ", got " + d.resources().vcpu());
            } else {
                vcpu = d.resources().vcpu();
            }
            if (d.resources().memMb() == null) {
                problems.add(prefix + ".resources.mem_mb is required");
            } else if (d.resources().memMb() < MIN_MEM_MB || d.resources().memMb() > MAX_MEM_MB) {
                problems.add(prefix + ".resources.mem_mb must be " + MIN_MEM_MB + "-" + MAX_MEM_MB + ", got "
                        + d.resources().memMb());
            } else {
                mem = d.resources().memMb();
            }
        }
        Lifecycle lifecycle = Lifecycle.SERVICE;
        if (d.lifecycle() == null) {
            problems.add(prefix + ".lifecycle is required: service, job or daemon");
        } else {
            Optional<Lifecycle> parsed = Lifecycle.parse(d.lifecycle());
            if (parsed.isEmpty()) {
                problems.add(prefix + ".lifecycle must be service, job or daemon, got '" + d.lifecycle() + "'");
            } else {
                lifecycle = parsed.get();
            }
        }
        int warmMin = 0;
        int warmMax = 0;
        if (d.warmPool() != null) {
            warmMin = d.warmPool().min() == null ? 0 : d.warmPool().min();
            warmMax = d.warmPool().max() == null ? warmMin : d.warmPool().max();
            if (warmMin < 0 || warmMin > MAX_WARM) {
                problems.add(prefix + ".warm_pool.min must be 0-" + MAX_WARM + ", got " + warmMin);
            }
            if (warmMax < warmMin || warmMax > MAX_WARM) {
                problems.add(prefix + ".warm_pool.max must be min-" + MAX_WARM + " (min is " + warmMin + "), got "
                        + warmMax);
            }
        }
        List<VmSpec.PortSpec> ports = new ArrayList<>();
        if (d.ports() != null) {
            for (int i = 0; i < d.ports().size(); i++) {
                VmSpecDraft.Port p = d.ports().get(i);
                String at = prefix + ".ports[" + i + "]";
                if (p == null || p.guest() == null || p.guest() < 1 || p.guest() > 65535) {
                    problems.add(at + ".guest must be a port 1-65535");
                    continue;
                }
                int host = p.host() == null ? 0 : p.host();
                if (host < 0 || host > 65535) {
                    problems.add(at + ".host must be 0-65535 (0: any), got " + host);
                }
                String protocol = p.protocol() == null ? "tcp" : p.protocol();
                if (!protocol.equals("tcp")) {
                    problems.add(at + ".protocol must be tcp, got '" + protocol + "'");
                }
                ports.add(new VmSpec.PortSpec(p.guest(), host, protocol));
            }
        }
        Optional<IdlePolicy> idle = idle(d.idle(), prefix + ".idle", problems);
        if (!problems.isEmpty()) {
            throw new VmSpecException(problems);
        }
        return new VmSpec(template, rootfs, kernel, cmd, env, secrets, vcpu, mem, lifecycle, warmMin, warmMax, ports,
                idle);
    }

    /**
     * The idle policy as pools take it (absent fields take the defaults, {@code {}} or absent: none);
     * every field's problem is listed.
     */
    private static Optional<IdlePolicy> idle(VmSpecDraft.Idle idle, String at, List<String> problems) {
        if (idle == null || (idle.warmAfter() == null && idle.sleepAfter() == null && idle.minRuntime() == null
                && idle.cpuThreshold() == null)) {
            return Optional.empty();
        }
        IdlePolicy d = IdlePolicy.DEFAULTS;
        Duration warmAfter = duration(idle.warmAfter(), d.warmAfter(), at + ".warm_after", problems);
        Duration sleepAfter = duration(idle.sleepAfter(), d.sleepAfter(), at + ".sleep_after", problems);
        Duration minRuntime = duration(idle.minRuntime(), d.minRuntime(), at + ".min_runtime", problems);
        if (warmAfter == null || sleepAfter == null || minRuntime == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new IdlePolicy(warmAfter, sleepAfter, minRuntime,
                    idle.cpuThreshold() == null ? d.cpuThreshold() : idle.cpuThreshold()));
        } catch (io.mvm.model.MvmException e) {
            problems.add(at + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    private static Duration duration(String text, Duration fallback, String at, List<String> problems) {
        if (text == null) {
            return fallback;
        }
        try {
            return IdlePolicy.parseDuration(at.substring(at.lastIndexOf('.') + 1), text);
        } catch (io.mvm.model.MvmException e) {
            problems.add(at + ": " + e.getMessage());
            return null;
        }
    }

    private static Optional<String> name(String value, String field, List<String> problems) {
        if (value == null) {
            return Optional.empty();
        }
        if (!NAME.matcher(value).matches() || value.contains("..")) {
            problems.add(field + " must be a name of letters, digits, '.', '_' or '-' (no path), got '" + value + "'");
            return Optional.empty();
        }
        return Optional.of(value);
    }

    private static Map<String, String> keys(Map<String, String> map, String field, List<String> problems) {
        if (map == null) {
            return Map.of();
        }
        for (Map.Entry<String, String> e : map.entrySet()) {
            if (e.getKey() == null || !KEY.matcher(e.getKey()).matches()) {
                problems.add(field + " name '" + e.getKey() + "' is invalid: letters, digits, '_', '.' or '-', starting"
                        + " with a letter or '_'");
            } else if (e.getValue() == null) {
                problems.add(field + "." + e.getKey() + " must be a string, not null");
            }
        }
        return map;
    }

    /** The spec hash (SHA-256, hex) over the counted fields; see the class comment. */
    public static String hash(VmSpec s) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            Encoder e = new Encoder(digest);
            e.put("mvm-vmspec-v1");
            e.put(s.template().orElse(""));
            e.put(s.rootfs().orElse(""));
            e.put(s.kernel().orElse(""));
            e.put(Integer.toString(s.vcpu()));
            e.put(Long.toString(s.memMb()));
            e.put(s.lifecycle().wireName());
            e.put(Integer.toString(s.cmd().size()));
            s.cmd().forEach(e::put);
            Map<String, String> env = new TreeMap<>(s.env());
            e.put(Integer.toString(env.size()));
            env.forEach((k, v) -> {
                e.put(k);
                e.put(v);
            });
            List<VmSpec.PortSpec> ports = new ArrayList<>(s.ports());
            ports.sort(Comparator.comparingInt(VmSpec.PortSpec::guest).thenComparingInt(VmSpec.PortSpec::host)
                    .thenComparing(VmSpec.PortSpec::protocol));
            e.put(Integer.toString(ports.size()));
            ports.forEach(p -> e.put(p.guest() + "/" + p.host() + "/" + p.protocol()));
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException("every JDK has SHA-256", ex);
        }
    }

    private record Encoder(MessageDigest digest) {
        void put(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            digest.update(new byte[] {(byte) (b.length >>> 24), (byte) (b.length >>> 16), (byte) (b.length >>> 8),
                    (byte) b.length});
            digest.update(b);
        }
    }
}
