{{/* Names and labels shared by the templates. */}}

{{- define "flashsale.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's objects: the release name when it already names the chart
(flashsale-blue), else RELEASE-flashsale. */}}
{{- define "flashsale.fullname" -}}
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

{{- define "flashsale.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Selects this release's pods (Deployment, PDB, its own Service, anti-affinity). Fixed
for the life of the Deployment: its selector cannot change. */}}
{{- define "flashsale.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flashsale.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "flashsale.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "flashsale.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: server
{{- if .Values.blueGreen.enabled }}
app.kubernetes.io/part-of: {{ .Values.blueGreen.group }}
flashsale/color: {{ .Values.blueGreen.color }}
{{- end }}
{{- end }}

{{/* What the live Service of a blue-green pair selects, but for the color: every pod of
both releases carries these labels. */}}
{{- define "flashsale.liveSelectorLabels" -}}
app.kubernetes.io/name: {{ include "flashsale.name" . }}
app.kubernetes.io/part-of: {{ .Values.blueGreen.group }}
{{- end }}

{{- define "flashsale.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flashsale.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Refuses values that would deploy something broken; each message says what to change. */}}
{{- define "flashsale.validate" -}}
{{- if not (has .Values.store (list "postgres" "sqlite")) }}
{{- fail (printf "store must be postgres or sqlite, not %q" .Values.store) }}
{{- end }}
{{- if eq .Values.store "postgres" }}
{{- if not .Values.database.existingSecret }}
{{- fail "store=postgres needs database.existingSecret: a Secret with the postgres:// URL" }}
{{- end }}
{{- else }}
{{- if .Values.autoscaling.enabled }}
{{- fail "store=sqlite runs exactly one pod: set autoscaling.enabled=false" }}
{{- end }}
{{- if ne (int .Values.replicaCount) 1 }}
{{- fail "store=sqlite runs exactly one pod: set replicaCount=1 (more pods would be separate sales)" }}
{{- end }}
{{- if .Values.blueGreen.enabled }}
{{- fail "blue-green needs store=postgres: both colors must share one database" }}
{{- end }}
{{- if not .Values.persistence.enabled }}
{{- fail "store=sqlite keeps the database in the data directory: set persistence.enabled=true" }}
{{- end }}
{{- end }}
{{- if .Values.persistence.enabled }}
{{- if or .Values.autoscaling.enabled (ne (int .Values.replicaCount) 1) }}
{{- fail "persistence.enabled gives the Deployment one ReadWriteOnce volume: set replicaCount=1 and autoscaling.enabled=false" }}
{{- end }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- fail "secrets.existingSecret must name the Secret with the JWT secret and the admin token" }}
{{- end }}
{{- if .Values.blueGreen.enabled }}
{{- if not (has .Values.blueGreen.color (list "blue" "green")) }}
{{- fail (printf "blueGreen.color must be blue or green, not %q" .Values.blueGreen.color) }}
{{- end }}
{{- if not (has .Values.blueGreen.liveService.initialColor (list "blue" "green")) }}
{{- fail "blueGreen.liveService.initialColor must be blue or green" }}
{{- end }}
{{- end }}
{{- if not (has .Values.podAntiAffinity (list "soft" "hard" "")) }}
{{- fail "podAntiAffinity must be soft, hard or empty" }}
{{- end }}
{{- if and .Values.podAntiAffinity .Values.affinity.podAntiAffinity }}
{{- fail "affinity.podAntiAffinity and podAntiAffinity both set: set podAntiAffinity to \"\" to use your own" }}
{{- end }}
{{- range $key, $value := .Values.config }}
{{- if not (hasPrefix "FLASHSALE_" $key) }}
{{- fail (printf "config.%s: only FLASHSALE_* variables belong in config (use extraEnv)" $key) }}
{{- end }}
{{- if has $key (list "FLASHSALE_JWT_SECRET" "FLASHSALE_ADMIN_TOKEN" "FLASHSALE_WEBHOOK_SECRET") }}
{{- fail (printf "config.%s is a secret: it comes from secrets.existingSecret, not from the ConfigMap" $key) }}
{{- end }}
{{- if has $key (list "FLASHSALE_LISTEN" "FLASHSALE_DATA_DIR" "FLASHSALE_STORE" "FLASHSALE_JWT_SECRET_FILE" "FLASHSALE_ADMIN_TOKEN_FILE" "FLASHSALE_REDIS" "FLASHSALE_REDIS_PASSWORD_FILE" "FLASHSALE_KAFKA_BROKERS" "FLASHSALE_KAFKA_TOPIC" "FLASHSALE_KAFKA_PROPERTIES" "FLASHSALE_PAYMENT_GATEWAY_KEY_FILE") }}
{{- fail (printf "config.%s is set by the chart from its own values (store, database, secrets, redis, kafka)" $key) }}
{{- end }}
{{- end }}
{{- end }}
