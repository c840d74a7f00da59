module github.com/senim-kz/senim

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/coder/websocket v1.8.15
	github.com/mattn/go-isatty v0.0.20
	github.com/rs/zerolog v1.35.1
	github.com/smallstep/pkcs7 v0.2.3
	software.sslmate.com/src/go-pkcs12 v0.7.0
)

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	golang.org/x/crypto v0.11.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
)
