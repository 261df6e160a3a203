// A std::deque that allocates nothing until the first push. libstdc++'s
// deque allocates a 512-byte block when constructed; sessions hold two of
// them, and an idle subscribed client should cost no more than its state.
#pragma once

#include <deque>
#include <memory>

namespace duplex {

template <class T>
class LazyDeque {
  public:
    using iterator = typename std::deque<T>::iterator;
    using const_iterator = typename std::deque<T>::const_iterator;

    bool empty() const { return !d_ || d_->empty(); }
    size_t size() const { return d_ ? d_->size() : 0; }
    T& front() { return d_->front(); }
    const T& front() const { return d_->front(); }
    T& operator[](size_t i) { return (*d_)[i]; }
    const T& operator[](size_t i) const { return (*d_)[i]; }
    void pop_front() { d_->pop_front(); }
    void push_back(T&& value) {
        if (!d_) d_ = std::make_unique<std::deque<T>>();
        d_->push_back(std::move(value));
    }
    void push_front(T&& value) {
        if (!d_) d_ = std::make_unique<std::deque<T>>();
        d_->push_front(std::move(value));
    }
    iterator begin() { return d_ ? d_->begin() : iterator(); }
    iterator end() { return d_ ? d_->end() : iterator(); }
    const_iterator begin() const { return d_ ? d_->cbegin() : const_iterator(); }
    const_iterator end() const { return d_ ? d_->cend() : const_iterator(); }
    iterator erase(iterator it) { return d_->erase(it); }
    template <class Pred>
    size_t erase_if(Pred pred) {
        return d_ ? std::erase_if(*d_, pred) : 0;
    }
    // Frees the storage if empty (e.g. when a client goes offline).
    void shrink() {
        if (d_ && d_->empty()) d_.reset();
    }

  private:
    std::unique_ptr<std::deque<T>> d_;
};

}  // namespace duplex
