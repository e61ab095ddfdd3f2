package io.mvm.runtime.doctor;

/** One line of {@code mvm doctor}. {@code fix} is empty when there is nothing to do. */
public record CheckResult(String name, Status status, String detail, String fix) {
    public enum Status { OK, WARN, FAIL }

    public static CheckResult ok(String name, String detail) {
        return new CheckResult(name, Status.OK, detail, "");
    }

    public static CheckResult warn(String name, String detail, String fix) {
        return new CheckResult(name, Status.WARN, detail, fix);
    }

    public static CheckResult fail(String name, String detail, String fix) {
        return new CheckResult(name, Status.FAIL, detail, fix);
    }
}
