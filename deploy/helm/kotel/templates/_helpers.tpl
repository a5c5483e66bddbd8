{{/*
The chart name, or nameOverride: the app.kubernetes.io/name label.
*/}}
{{- define "kotel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The base name of every resource: fullnameOverride, else <release>-<name>, or just the
release name when it already contains the chart name. At most 63 characters (DNS label);
names that get a suffix are cut shorter where they are built.
*/}}
{{- define "kotel.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"<fullname>-<suffix>", the base cut so that the whole stays within 63 characters.
Call with (list . "suffix").
*/}}
{{- define "kotel.suffixedName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- $base := include "kotel.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $base $suffix }}
{{- end }}

{{- define "kotel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the kotel pods; never change them in an upgrade (a DaemonSet's
selector is immutable).
*/}}
{{- define "kotel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kotel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "kotel.labels" -}}
helm.sh/chart: {{ include "kotel.chart" . }}
{{ include "kotel.selectorLabels" . }}
app.kubernetes.io/component: node-agent
app.kubernetes.io/part-of: kotel
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kotel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kotel.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kotel.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "kotel.configMapName" -}}
{{- include "kotel.suffixedName" (list . "config") }}
{{- end }}

{{- define "kotel.headersSecretName" -}}
{{- include "kotel.suffixedName" (list . "otlp-headers") }}
{{- end }}

{{/*
Every OTLP header the chart passes, as YAML {headers: [...]}, sorted by source then name.
Each entry has `header` (the HTTP header name), `env` (the container env var that holds
its value) and either `value` (otlp.headers) or `secret` and `key` (otlp.existingSecret,
otlp.secretHeaders). Fails on a header name kotel would refuse and on two headers that
would share an env var (header names are case-insensitive).
*/}}
{{- define "kotel.otlpHeaders" -}}
{{- $entries := list }}
{{- range $name, $value := .Values.otlp.headers }}
{{- $entries = append $entries (dict "header" $name "value" (toString $value)) }}
{{- end }}
{{- if and .Values.otlp.existingSecret.headers (not .Values.otlp.existingSecret.name) }}
{{- fail "otlp.existingSecret.headers is set but otlp.existingSecret.name is empty" }}
{{- end }}
{{- range $name, $key := .Values.otlp.existingSecret.headers }}
{{- $entries = append $entries (dict "header" $name "secret" $.Values.otlp.existingSecret.name "key" (toString $key)) }}
{{- end }}
{{- range $name, $_ := .Values.otlp.secretHeaders }}
{{- $entries = append $entries (dict "header" $name "secret" (include "kotel.headersSecretName" $) "key" $name) }}
{{- end }}
{{- $byEnv := dict }}
{{- range $entry := $entries }}
{{- if not (regexMatch "^[A-Za-z0-9_-]+$" $entry.header) }}
{{- fail (printf "otlp header %q: a header name may hold only letters, digits, '-' and '_'" $entry.header) }}
{{- end }}
{{- $env := printf "KOTEL_OTLP_HEADER_%s" ($entry.header | upper | replace "-" "_") }}
{{- if hasKey $byEnv $env }}
{{- fail (printf "otlp headers %q and %q are the same header (both would be passed as %s)" (get $byEnv $env) $entry.header $env) }}
{{- end }}
{{- $_ := set $byEnv $env $entry.header }}
{{- $_ := set $entry "env" $env }}
{{- end }}
{{- toYaml (dict "headers" $entries) }}
{{- end }}

{{/*
"true" when kotel serves the Prometheus endpoint: prometheus.enabled and a prometheus
exporter in config. The port, probes, Service and monitors depend on it.
*/}}
{{- define "kotel.prometheusServed" -}}
{{- $exporters := default dict .Values.config.exporters }}
{{- $found := false }}
{{- range $id, $_ := $exporters }}
{{- if eq (regexReplaceAll "/.*$" $id "") "prometheus" }}
{{- $found = true }}
{{- end }}
{{- end }}
{{- if and .Values.prometheus.enabled $found }}true{{ end }}
{{- end }}

{{/*
The pipeline file: .Values.config with the chart's additions (see values.yaml `config`).
Header values are never written here, only ${env:KOTEL_OTLP_HEADER_*} references, quoted
so that a value holding ": " or " #" stays one string after kotel's textual substitution.
*/}}
{{- define "kotel.pipeline" -}}
{{- $config := deepCopy (default dict .Values.config) }}
{{- $exporters := default dict (get $config "exporters") }}
{{- $headers := (include "kotel.otlpHeaders" . | fromYaml).headers | default list }}
{{- $dropped := list }}
{{- range $id := keys $exporters | sortAlpha }}
{{- $type := regexReplaceAll "/.*$" $id "" }}
{{- $exporter := get $exporters $id | default dict }}
{{- if eq $type "prometheus" }}
{{- if $.Values.prometheus.enabled }}
{{- if not (hasKey $exporter "listen") }}
{{- $_ := set $exporter "listen" (printf "0.0.0.0:%d" (int $.Values.prometheus.port)) }}
{{- end }}
{{- $_ := set $exporters $id $exporter }}
{{- else }}
{{- $_ := unset $exporters $id }}
{{- $dropped = append $dropped $id }}
{{- end }}
{{- else if and (eq $type "otlp") $headers }}
{{- $refs := dict }}
{{- range $h := $headers }}
{{- $_ := set $refs $h.header (printf "${env:%s}" $h.env) }}
{{- end }}
{{- $_ := set $exporter "headers" (merge (default dict $exporter.headers) $refs) }}
{{- $_ := set $exporters $id $exporter }}
{{- end }}
{{- end }}
{{- if $exporters }}
{{- $_ := set $config "exporters" $exporters }}
{{- end }}
{{- if $dropped }}
{{- range $name, $pipeline := default dict (get $config "pipelines") }}
{{- if and (kindIs "map" $pipeline) (hasKey $pipeline "exporters") }}
{{- $kept := list }}
{{- range $e := $pipeline.exporters }}
{{- if not (has $e $dropped) }}
{{- $kept = append $kept $e }}
{{- end }}
{{- end }}
{{- $_ := set $pipeline "exporters" $kept }}
{{- end }}
{{- end }}
{{- end }}
{{- regexReplaceAll "(?m): (\\$\\{env:KOTEL_OTLP_HEADER_[A-Z0-9_]+\\})$" (toYaml $config) ": \"${1}\"" }}
{{- end }}
