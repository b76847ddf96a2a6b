{{/* Names are cut to 63 characters, the limit of DNS labels. */}}
{{- define "threadsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "threadsync.fullname" -}}
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

{{- define "threadsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "threadsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "threadsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "threadsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "threadsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "threadsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
threadsync.plan turns .Values.accounts into what the accounts file, the
environment and the volumes need, as JSON, so that the ConfigMap and the
Deployment agree: accounts (the file's entries), env (variable -> secret and
key) and files (secret -> its keys mounted under tokensMountPath).
*/}}
{{- define "threadsync.plan" -}}
{{- $accounts := list }}
{{- $env := dict }}
{{- $files := dict }}
{{- $varRef := "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$" }}
{{- range $i, $a := .Values.accounts }}
{{- $where := printf "accounts[%d] (%v/%v)" $i $a.provider $a.id }}
{{- $entry := omit $a "tokenSecret" }}
{{- if and $a.token (not (regexMatch $varRef (toString $a.token))) }}
{{- fail (printf "%s: token must be a ${VAR} reference or come from tokenSecret; a literal token would be stored in a ConfigMap" $where) }}
{{- end }}
{{- with $a.tokenSecret }}
{{- if or $a.token $a.token_file }}
{{- fail (printf "%s: set tokenSecret or token/token_file, not both" $where) }}
{{- end }}
{{- if not (and .name .key) }}
{{- fail (printf "%s: tokenSecret needs the name of an existing Secret and a key" $where) }}
{{- end }}
{{- $as := default "file" .as }}
{{- if eq $as "file" }}
{{- $keys := get $files .name | default dict }}
{{- $_ := set $keys .key true }}
{{- $_ := set $files .name $keys }}
{{- $_ := set $entry "token_file" (printf "%s/%s/%s" (trimSuffix "/" $.Values.tokensMountPath) .name .key) }}
{{- else if eq $as "env" }}
{{- $var := .env | default (regexReplaceAll "[^A-Z0-9_]" (printf "%v_%v_TOKEN" $a.provider $a.id | upper) "_") }}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" $var) }}
{{- fail (printf "%s: tokenSecret.env %q is not a variable name" $where $var) }}
{{- end }}
{{- if regexMatch "^(NATS|REDIS|THREADSYNC|OTEL)_" $var }}
{{- fail (printf "%s: tokenSecret.env %q would clash with threadsync's own settings" $where $var) }}
{{- end }}
{{- $ref := dict "name" .name "key" .key }}
{{- with get $env $var }}
{{- if not (and (eq .name $ref.name) (eq .key $ref.key)) }}
{{- fail (printf "%s: tokenSecret.env %s already names another secret key; set tokenSecret.env" $where $var) }}
{{- end }}
{{- end }}
{{- $_ := set $env $var $ref }}
{{- $_ := set $entry "token" (printf "${%s}" $var) }}
{{- else }}
{{- fail (printf "%s: tokenSecret.as must be file or env, not %q" $where $as) }}
{{- end }}
{{- end }}
{{- $accounts = append $accounts $entry }}
{{- end }}
{{- dict "accounts" $accounts "env" $env "files" $files | toJson }}
{{- end }}

{{/*
threadsync.file is the accounts file's content.
*/}}
{{- define "threadsync.file" -}}
{{- $plan := include "threadsync.plan" . | fromJson }}
{{- $file := dict "accounts" $plan.accounts }}
{{- with .Values.slaPolicies }}
{{- $_ := set $file "sla_policies" . }}
{{- end }}
{{- with .Values.defaultSla }}
{{- $_ := set $file "default_sla" . }}
{{- end }}
{{- toYaml $file }}
{{- end }}

{{/*
threadsync.envValue renders a setting as an environment variable's string.
Helm reads numbers of values files as floats, which would print 1000000 as
1e+06.
*/}}
{{- define "threadsync.envValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . | toString | quote }}
{{- else }}
{{- toString . | quote }}
{{- end }}
{{- end }}

{{/*
threadsync.noCredentials refuses a URL with credentials in it (a password,
or a NATS token in place of the user): values end up in the release's
history and in the Deployment in plain text.
*/}}
{{- define "threadsync.noCredentials" -}}
{{- if regexMatch "://[^/@]*@" .url }}
{{- fail (printf "%s.url holds credentials; put the URL in %s.urlSecret, or the password in %s.passwordSecret" .what .what .what) }}
{{- end }}
{{- end }}

{{/*
threadsync.connEnv renders the environment of one service (NATS or Redis):
URL, user, password and the paths of its mounted credential files.
*/}}
{{- define "threadsync.connEnv" -}}
{{- $v := .values }}
{{- $dir := printf "/var/run/secrets/threadsync/%s" .what }}
{{- include "threadsync.noCredentials" (dict "url" $v.url "what" .what) }}
- name: {{ .prefix }}_URL
{{- if $v.urlSecret.name }}
  valueFrom:
    secretKeyRef: {name: {{ $v.urlSecret.name | quote }}, key: {{ required (printf "%s.urlSecret.key" .what) $v.urlSecret.key | quote }}}
{{- else }}
  value: {{ required (printf "%s.url or %s.urlSecret" .what .what) $v.url | quote }}
{{- end }}
{{- with (index $v .userField) }}
- name: {{ $.prefix }}_{{ $.userEnv }}
  value: {{ . | quote }}
{{- end }}
{{- if $v.passwordSecret.name }}
- name: {{ .prefix }}_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $v.passwordSecret.name | quote }}, key: {{ required (printf "%s.passwordSecret.key" .what) $v.passwordSecret.key | quote }}}
{{- end }}
{{- if and $v.credsSecret $v.credsSecret.name }}
- name: {{ .prefix }}_CREDS
  value: {{ $dir }}/creds
{{- end }}
{{- if and $v.nkeySecret $v.nkeySecret.name }}
- name: {{ .prefix }}_NKEY
  value: {{ $dir }}/nkey
{{- end }}
{{- with $v.tls }}
{{- if .secretName }}
{{- if ne (empty .cert) (empty .key) }}
{{- fail (printf "%s.tls: set cert and key together" $.what) }}
{{- end }}
{{- if .ca }}
- name: {{ $.prefix }}_TLS_CA
  value: {{ $dir }}/tls/ca.crt
{{- end }}
{{- if .cert }}
- name: {{ $.prefix }}_TLS_CERT
  value: {{ $dir }}/tls/tls.crt
- name: {{ $.prefix }}_TLS_KEY
  value: {{ $dir }}/tls/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
threadsync.connSources lists the projected volume sources of one service's
credential files; empty when it has none.
*/}}
{{- define "threadsync.connSources" -}}
{{- $v := .values }}
{{- if and $v.credsSecret $v.credsSecret.name }}
- secret:
    name: {{ $v.credsSecret.name | quote }}
    items: [{key: {{ $v.credsSecret.key | quote }}, path: creds}]
{{- end }}
{{- if and $v.nkeySecret $v.nkeySecret.name }}
- secret:
    name: {{ $v.nkeySecret.name | quote }}
    items: [{key: {{ $v.nkeySecret.key | quote }}, path: nkey}]
{{- end }}
{{- with $v.tls }}
{{- if and .secretName (or .ca .cert) }}
- secret:
    name: {{ .secretName | quote }}
    items:
      {{- if .ca }}
      - {key: {{ .ca | quote }}, path: tls/ca.crt}
      {{- end }}
      {{- if .cert }}
      - {key: {{ .cert | quote }}, path: tls/tls.crt}
      - {key: {{ .key | quote }}, path: tls/tls.key}
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
threadsync.intOrPercent renders a count (1) unquoted and a percentage
("50%") quoted, as an IntOrString field wants them.
*/}}
{{- define "threadsync.intOrPercent" -}}
{{- $s := toString . }}
{{- if regexMatch "^[0-9]+$" $s }}
{{- $s }}
{{- else }}
{{- $s | quote }}
{{- end }}
{{- end }}
