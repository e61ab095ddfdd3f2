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

    String scrape() {
        return registry.scrape();
    }
}
