package lab

import (
	"io/fs"
	"net/http"
)

// Handler lists every route of the lab. A route asked with another method gets 405, an unknown API
// path 404, both as JSON.
func (s *Server) Handler() http.Handler {
	static, _ := fs.Sub(web, "web") // the embedded directory exists: go:embed would not build otherwise
	mux := http.NewServeMux()
	mux.Handle("/{$}", only(http.MethodGet, http.FileServerFS(static)))
	mux.Handle("/static/", only(http.MethodGet, http.StripPrefix("/static/", http.FileServerFS(static))))
	mux.Handle("/healthz", only(http.MethodGet, http.HandlerFunc(healthz)))
	mux.Handle("/api/scenarios", only(http.MethodGet, http.HandlerFunc(s.scenarios)))
	mux.Handle("/api/compare", only(http.MethodPost, http.HandlerFunc(s.compare)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no route %s %s", r.Method, r.URL.Path)
	})
	return mux
}

// only answers 405 to any other method than the route's.
func only(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "%s %s: use %s", r.Method, r.URL.Path, method)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
