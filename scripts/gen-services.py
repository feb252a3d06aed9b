#!/usr/bin/env python3
"""Writes a compose file with N services (environment, ports, volumes, depends_on, healthcheck)."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
out = ["name: bench", "services:"]
for i in range(n):
    out += [
        f"  svc{i}:",
        f"    image: busybox:{i % 7}",
        "    command: [\"sh\", \"-c\", \"sleep 1000\"]",
        "    environment:",
        f"      INDEX: \"{i}\"",
        "      MODE: ${MODE:-dev}",
        f"      URL: http://svc{max(i - 1, 0)}:8080/",
        "    ports:",
        f"      - \"{20000 + i}:80\"",
        f"      - \"127.0.0.1:{30000 + i}:443/tcp\"",
        "    volumes:",
        f"      - data{i % 10}:/data",
        f"      - ./src/{i}:/src:ro",
        "    healthcheck:",
        "      test: [\"CMD\", \"true\"]",
        "      interval: 10s",
        "      timeout: 2s",
        "      retries: 3",
    ]
    if i > 0:
        out += ["    depends_on:", f"      svc{i - 1}:", "        condition: service_started"]
out.append("volumes:")
for j in range(10):
    out.append(f"  data{j}: {{}}")
print("\n".join(out))
