package io.mvm.coordinator.http;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Request counts and latencies per route and status, plus gauges of what the coordinator holds. */
final class HttpMetrics {
    private static final Logger log = LoggerFactory.getLogger(HttpMetrics.class);
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    void gauge(String name, String help, LongSupplier value) {
        Gauge.builder(name, () -> {
            try {
                return value.getAsLong();
            } catch (RuntimeException e) {
                // A scrape must not fail because the database blinked; NaN says "unknown".
                log.debug("gauge {} unavailable: {}", name, e.toString());
                return Double.NaN;
            }
        }).description(help).register(registry);
    }

    void request(String method, String route, int status, Duration took) {
        Timer.builder("mvm_http_requests")
                .description("HTTP requests handled by the coordinator API")
                .tag("method", method)
                .tag("route", route)
                .tag("status", Integer.toString(status))
                .register(registry)
                .record(took);
    }

    /** One /vms submission that booted something: served by a warm VM or a cold boot. */
    void vmSubmission(String tier, boolean claimFailed, Duration took) {
        Timer.builder("mvm_vms_submissions")
                .description("/vms submissions that started a VM, by the tier that served them (claim latency)")
                .tag("tier", tier)
                .publishPercentileHistogram()
                .register(registry)
                .record(took);
        if (claimFailed) {
            io.micrometer.core.instrument.Counter.builder("mvm_vms_claim_failures")
                    .description("Claims of warm VMs whose hand-over failed (the job was cold-booted)")
                    .register(registry).increment();
        }
    }

    private final java.util.List<Runnable> beforeScrape = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * A gauge per tag set that comes and goes (warm VMs per spec hash): {@code rows} is read at
     * every scrape and replaces the previous rows, so a spec whose pool went away disappears.
     */
    void multiGauge(String name, String help, java.util.function.Supplier<java.util.Map<java.util.List<String>, Long>> rows,
            String... tagNames) {
        var gauge = io.micrometer.core.instrument.MultiGauge.builder(name).description(help).register(registry);
        beforeScrape.add(() -> {
            java.util.Map<java.util.List<String>, Long> now;
            try {
                now = rows.get();
            } catch (RuntimeException e) {
                log.debug("gauge {} unavailable: {}", name, e.toString());
                return; // keep the last rows: a blink of the database is not "no warm VMs"
            }
            gauge.register(now.entrySet().stream().map(row -> {
                var tags = new java.util.ArrayList<io.micrometer.core.instrument.Tag>();
                for (int i = 0; i < tagNames.length; i++) {
                    tags.add(io.micrometer.core.instrument.Tag.of(tagNames[i], row.getKey().get(i)));
                }
                return io.micrometer.core.instrument.MultiGauge.Row.of(
                        io.micrometer.core.instrument.Tags.of(tags), row.getValue());
            }).toList(), true);
        });
    }

    String scrape() {
        beforeScrape.forEach(Runnable::run);
        return registry.scrape();
    }
}
